"""Which polls the log hears of: a record when something changed, a heartbeat otherwise.

Writing a `FeedPolled` for every poll makes the log grow with polling, not with news (a 304
every 15 minutes from 10,000 feeds is a million records a day). So a successful poll is
recorded only when it changed something the feed status shows or the poller needs after a
restart, and the unchanged ones are counted in memory and folded into the next record:

* recorded: new items, a revision, a move, other validators (ETag / Last-Modified), another
  URL, another status (200 and 304 count as one: both say "nothing new"), a change of
  `degraded` / `problem`, the first success after failures (a recovery), the first poll of a
  feed, a re-enabled feed. Failures (`FeedFailed`) are always recorded, after a flush of the
  pending unchanged polls, so the backoff survives a restart exactly as before.
* folded: everything else. The poll becomes a heartbeat (a `FeedPolled` like any other, with
  `unchanged_polls` and `unchanged_since`) once its oldest pending poll is `RecordPolicy.every`
  seconds old or `RecordPolicy.polls` polls are pending, so no poll stays out of the log
  longer than that.

Nothing the poller needs is lost by folding: a folded poll has the validators already stored,
and the failure count is 0. What the log lags on, by at most one heartbeat interval, is the
time of the last poll and the poll count; a running poller keeps the exact values in its
`FeedState` (`unrecorded`, `unrecorded_since`, and `last_poll` / `polls` counting them), and
`pending_heartbeat` writes them out when it stops.
"""

from __future__ import annotations

import attrs

from ..events import FeedPolled
from ._state import FeedState

__all__ = ["RecordPolicy", "live_state", "pending_heartbeat", "settle"]

_NOTHING_NEW = frozenset({200, 304})


@attrs.frozen(kw_only=True)
class RecordPolicy:
    """When unchanged polls are written.

    Attributes:
        every: seconds an unchanged poll may stay unrecorded (default 1 hour).
        polls: at most this many unchanged polls fold into one heartbeat (default 50).
        every_poll: write every poll, as before version 2 of `FeedPolled` (an operator switch,
            and the baseline of the poll-volume benchmark).
    """

    every: float = 3600.0
    polls: int = 50
    every_poll: bool = False


def _unchanged(state: FeedState, polled: FeedPolled) -> bool:
    """Whether `polled` tells nothing the log does not hold for the feed already."""
    same_status = (
        polled.status == state.last_status
        or {
            polled.status,
            state.last_status,
        }
        <= _NOTHING_NEW
    )
    return (
        state.last_poll is not None
        and state.failures == 0
        and not state.disabled
        and polled.new_items == 0
        and polled.url == state.url
        and same_status
        and polled.etag == state.etag
        and polled.last_modified == state.last_modified
        and polled.degraded == state.degraded
        and polled.problem == state.problem
    )


def settle(
    state: FeedState, polled: FeedPolled, policy: RecordPolicy, *, changed: bool = False
) -> tuple[FeedPolled | None, FeedState]:
    """Decide whether the successful poll `polled` is written.

    `state` is the feed's live state before the poll; `changed` says the poll did something
    `polled` does not show (a revision, a move). Returns the event to append (`polled` with the
    pending unchanged polls folded in), or None, and the live state to keep for the next poll
    (meaningful only when nothing was appended: after a record, the projection is the truth).
    """
    if not (policy.every_poll or changed) and _unchanged(state, polled):
        first = state.unrecorded_since or polled.polled_at
        due = (
            state.unrecorded + 1 >= policy.polls
            or (polled.polled_at - first).total_seconds() >= policy.every
        )
        if not due:
            return None, attrs.evolve(
                state,
                last_poll=polled.polled_at,
                last_success=polled.polled_at,
                last_status=polled.status,
                polls=state.polls + 1,
                unrecorded=state.unrecorded + 1,
                unrecorded_since=first,
            )
    record = attrs.evolve(
        polled, unchanged_polls=state.unrecorded, unchanged_since=state.unrecorded_since
    )
    return record, attrs.evolve(state, unrecorded=0, unrecorded_since=None)


def pending_heartbeat(state: FeedState) -> FeedPolled | None:
    """The heartbeat that writes `state`'s pending unchanged polls (None if there are none):
    its last one, with the others folded in. Appended before a failure and when a poller
    stops, so the log's poll count and last poll time catch up with the live ones."""
    if not state.unrecorded or state.last_poll is None:
        return None
    return FeedPolled(
        feed_id=state.feed_id,
        url=state.url or "",
        polled_at=state.last_poll,
        status=state.last_status if state.last_status is not None else 304,
        etag=state.etag,
        last_modified=state.last_modified,
        degraded=state.degraded,
        problem=state.problem,
        unchanged_polls=state.unrecorded - 1,
        unchanged_since=state.unrecorded_since if state.unrecorded > 1 else None,
    )


def live_state(stored: FeedState | None, held: FeedState | None) -> FeedState | None:
    """The feed's state for the next poll: what the log holds (`stored`), plus the unchanged
    polls a running poller `held` in memory since. Pending polls are dropped when the log
    recorded polls `held` does not know of (another watcher polled the feed since), so counts
    never double."""
    if held is None or not held.unrecorded:
        return stored
    base = stored or FeedState(feed_id=held.feed_id)
    if base.polls != held.polls - held.unrecorded:
        return stored
    return attrs.evolve(
        base,
        last_poll=held.last_poll,
        last_success=held.last_success,
        last_status=held.last_status,
        polls=base.polls + held.unrecorded,
        unrecorded=held.unrecorded,
        unrecorded_since=held.unrecorded_since,
    )
