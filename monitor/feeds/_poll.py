"""`poll_feed`: one poll of one feed, from fetch to the events it leaves in the log.

A poll never raises for a feed's problems: whatever happens becomes events. Items are appended
first (one atomic batch, deduplicated by the log through their dedupe keys, never by date), with
an `ItemRevised` for each known item whose content changed (see `_revisions`), then
`FeedPolled` with the number of new items actually stored, or `FeedFailed`; `FeedMoved` and
`FeedDisabled` record a permanent redirect and a feed that is gone. A new entry whose article
another feed already stored becomes an `ItemSighted` of that item instead (see `_sightings`).
A crash between the two appends loses nothing: the next poll finds the items already stored. A
poll that changed nothing is not written but folded into a later record (`_poll_record`,
`RecordPolicy`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import attrs

from ..errors import FeedError
from ..events import Event, FeedDisabled, FeedFailed, FeedMoved, FeedPolled
from ..log import EventLog
from ._config import FeedConfig
from ._fetch import Fetcher, FetchResult
from ._guards import feed_error
from ._normalize import normalize_entries
from ._parse import parse_feed
from ._poll_record import RecordPolicy, pending_heartbeat, settle
from ._revisions import Lookup, split_revisions, stored_versions
from ._sightings import UrlLookup, split_sightings, stored_urls
from ._state import FeedState

__all__ = ["MAX_BACKOFF", "PollReport", "backoff_delay", "poll_feed", "read_local_feed"]

_log = logging.getLogger(__name__)

#: Longest wait between polls of a failing feed (6 hours), unless its interval is longer.
MAX_BACKOFF = 6 * 3600.0
#: Longest Retry-After honoured (a day): a server cannot switch a feed off by asking for years.
MAX_RETRY_AFTER = 86400.0


@attrs.frozen(kw_only=True)
class PollReport:
    """What one poll did. `next_delay` is the seconds until the next poll (the interval, a
    backoff after failures, or the server's Retry-After); None means "do not poll again"."""

    feed_id: str
    ok: bool
    status: int | None = None
    new_items: int = 0
    seen_items: int = 0
    revised: int = 0
    #: Entries stored as sightings of an item another feed stored first (`ItemSighted`).
    sighted: int = 0
    degraded: bool = False
    error: str | None = None
    error_kind: str | None = None
    next_delay: float | None = None
    duration: float = 0.0
    url: str | None = None
    #: The feed's live state when this poll was folded (not written): hold it and pass it
    #: back as the next poll's state (see `live_state`); None when the log has it all.
    state: FeedState | None = None


def backoff_delay(
    interval: float,
    attempt: int,
    *,
    retry_after: float | None = None,
    cap: float = MAX_BACKOFF,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after the `attempt`-th consecutive failure.

    Doubles the interval per failure up to `cap` (or the interval, if longer), spreads it by
    ±20% jitter so failing feeds do not retry in lockstep, and never comes back sooner than the
    server's Retry-After (itself capped at a day).
    """
    rng = rng or random
    ceiling = max(cap, interval)
    base = min(ceiling, interval * 2 ** max(0, min(attempt - 1, 30)))
    delay = base * rng.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def read_local_feed(path: Path, max_bytes: int) -> bytes:
    """Read a local sample feed, refusing one larger than `max_bytes`."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise feed_error(f"cannot read {path}: {exc.strerror or exc}", "io") from exc
    if len(data) > max_bytes:
        raise feed_error(f"{path} is over the {max_bytes}-byte limit", "too_large")
    return data


def poll_feed(
    log: EventLog,
    feed: FeedConfig,
    state: FeedState | None,
    *,
    fetcher: Fetcher,
    clock: Callable[[], datetime],
    rng: random.Random | None = None,
    known: Lookup | None = None,
    policy: RecordPolicy | None = None,
    urls: UrlLookup | None = None,
) -> PollReport:
    """Poll `feed` once and record the outcome in `log`; see the module docstring.

    `state` is what the feed-status projection remembers (validators for a conditional GET,
    the current URL after moves, the failure count for the backoff); None for a new feed. A
    disabled feed (config or state) is not fetched and reports `next_delay=None`. `known`
    tells what the log holds of an item (default: the ``item_versions`` projection of `log`,
    as far as it has been run) so that changed items become `ItemRevised`; `urls` tells which
    item a canonical address is stored under (default: the same projection) so that an article
    another feed stored becomes `ItemSighted`, not a second item. `policy` says
    which unchanged polls are written (default: `RecordPolicy()`, a heartbeat an hour).

    Raises only what the log raises (`LogError`): feed problems never escape.
    """
    state = state or FeedState(feed_id=feed.id)
    if not feed.enabled or state.disabled:
        reason = state.disabled_reason if state.disabled else "disabled in the feed list"
        return PollReport(
            feed_id=feed.id,
            ok=False,
            error=f"not polled: {reason}",
            error_kind="disabled",
            url=state.url or feed.location,
        )
    started = clock()
    t0 = time.perf_counter()
    url = feed.location
    if feed.url is not None and state.moved_from == feed.url and state.url:
        url = state.url  # the feed moved permanently and the list still names the old address
    events: list[Event] = []
    try:
        result, body = _fetch(feed, state, url, fetcher)
        if result is not None and result.moved_to and result.moved_to != url:
            events.append(
                FeedMoved(feed_id=feed.id, old_url=url, new_url=result.moved_to, moved_at=started)
            )
            _log.info("feed %s moved permanently: %s -> %s", feed.id, url, result.moved_to)
            url = result.moved_to
        status = 0 if result is None else result.status
        if result is not None and result.not_modified:
            items, degraded, problem, seen = [], False, None, 0
        else:
            headers = {} if result is None else dict(result.headers)
            base = result.final_url if result is not None else None  # after any redirect
            parsed = parse_feed(body, headers=headers, url=base)
            cut: list[str] = []
            items = normalize_entries(
                parsed,
                feed_id=feed.id,
                received=started,
                feed_url=base,
                problems=cut,
            )
            degraded, problem, seen = parsed.degraded, parsed.problem, len(parsed.entries)
            if cut:  # fields cut to MAX_FIELD_CHARS: stored, but not whole
                degraded, problem = True, "; ".join(p for p in (problem, *cut) if p)
    except FeedError as exc:
        return _failed(log, feed, state, url, started, t0, exc, events, rng)
    except Exception as exc:  # a library bug on hostile input must not stop the watcher
        _log.exception("feed %s: unexpected error while polling", feed.id)
        err = feed_error(f"internal error: {type(exc).__name__}: {exc}", "internal")
        return _failed(log, feed, state, url, started, t0, err, events, rng)
    fresh, revisions = split_revisions(items, known or stored_versions(log))
    new, sightings = split_sightings(fresh, urls or stored_urls(log)) if fresh else ([], [])
    batch: list[Event] = [*new, *revisions, *sightings]
    positions = log.append_events(batch).positions if batch else []
    stored = sum(p is not None for p in positions[: len(new)])
    revised = sum(p is not None for p in positions[len(new) : len(new) + len(revisions)])
    sighted = sum(p is not None for p in positions[len(new) + len(revisions) :])
    duration = time.perf_counter() - t0
    polled = FeedPolled(
        feed_id=feed.id,
        url=url,
        polled_at=started,
        status=status,
        etag=_validator(result, "etag", state.etag),
        last_modified=_validator(result, "last_modified", state.last_modified),
        new_items=stored,
        seen_items=seen,
        duration_ms=round(duration * 1000, 3),
        degraded=degraded,
        problem=problem,
    )
    changed = bool(events or revised or sighted)
    record, live = settle(state, polled, policy or RecordPolicy(), changed=changed)
    if record is not None:
        log.append_events([*events, record])
    return PollReport(
        feed_id=feed.id,
        ok=True,
        status=status,
        new_items=stored,
        seen_items=seen,
        revised=revised,
        sighted=sighted,
        degraded=degraded,
        error=problem if degraded else None,
        next_delay=feed.interval,
        duration=duration,
        url=url,
        state=None if record is not None else live,
    )


def _validator(result: FetchResult | None, name: str, held: str | None) -> str | None:
    """The validator to remember: a 200's own (or none), a 304's if it sent one, else the one
    already held."""
    if result is None:
        return None
    fresh = getattr(result, name)
    return fresh or held if result.not_modified else fresh


def _fetch(
    feed: FeedConfig, state: FeedState, url: str, fetcher: Fetcher
) -> tuple[FetchResult | None, bytes]:
    if feed.path is not None:
        return None, read_local_feed(feed.path, fetcher.max_bytes)
    same_url = state.url in (None, url)
    result = fetcher.fetch(
        url,
        etag=state.etag if same_url else None,
        last_modified=state.last_modified if same_url else None,
        auth=feed.auth,
        allow_networks=feed.allow_networks,
    )
    return result, result.body


def _failed(
    log: EventLog,
    feed: FeedConfig,
    state: FeedState,
    url: str,
    started: datetime,
    t0: float,
    exc: FeedError,
    events: list[Event],
    rng: random.Random | None,
) -> PollReport:
    attempt = state.failures + 1
    status = getattr(exc, "status", None)
    heartbeat = pending_heartbeat(state)  # unchanged polls before the failure: counts stay exact
    if heartbeat is not None:
        events.insert(0, heartbeat)
    events.append(
        FeedFailed(
            feed_id=feed.id,
            url=url,
            failed_at=started,
            error_kind=exc.kind,
            message=str(exc),
            attempt=attempt,
            status=status,
            retry_after=exc.retry_after,
        )
    )
    next_delay: float | None = backoff_delay(
        feed.interval, attempt, retry_after=exc.retry_after, rng=rng
    )
    if exc.kind == "gone":
        events.append(FeedDisabled(feed_id=feed.id, url=url, reason=str(exc), disabled_at=started))
        next_delay = None
    log.append_events(events)
    return PollReport(
        feed_id=feed.id,
        ok=False,
        status=status,
        error=str(exc),
        error_kind=exc.kind,
        next_delay=next_delay,
        duration=time.perf_counter() - t0,
        url=url,
    )
