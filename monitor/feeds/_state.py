"""`FeedState`: what the poller must remember about a feed between polls.

The feed-status projection folds `FeedPolled` / `FeedFailed` / `FeedMoved` / `FeedDisabled`
events into one JSON object per feed with exactly these fields, and the application rebuilds
the state with ``FeedState(**stored)``; `to_dict` is the inverse. Converters accept the JSON
forms (ISO-8601 strings), so both directions are lossless.

Two fields, `LIVE_KEYS`, are never stored: `unrecorded` and `unrecorded_since` count the
unchanged polls a running poller has made since the log last heard of the feed (see
`monitor.feeds._poll_record`). The projection's state always has them at 0 / None.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from ..events import format_time, parse_time

__all__ = ["LIVE_KEYS", "FeedState"]

#: FeedState fields that live in a running poller only, never in the log or the projection.
LIVE_KEYS = ("unrecorded", "unrecorded_since")


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


@attrs.frozen(kw_only=True)
class FeedState:
    """A feed's remembered state. Only `feed_id` is required; the rest default to "never polled".

    Attributes:
        url: the URL last polled, or the target of a permanent redirect; None if never polled.
        moved_from: the configured URL the feed moved away from (None if it never moved): the
            poller follows `url` only while the feed list still names this one.
        last_poll / last_success: when the feed was last polled / last polled successfully.
        last_status: HTTP status of the last poll (0 for a local file), None if never polled.
        etag / last_modified: validators for the next conditional GET.
        items: total new items stored from this feed; polls: number of polls.
        failures: consecutive failed polls (0 after a success); drives the backoff.
        last_error / last_error_kind: message and kind of the last failure.
        retry_after: seconds the server asked us to wait (429/503), None if not asked.
        disabled / disabled_reason: the feed is gone (HTTP 410) and must not be polled.
        degraded / problem: the last poll parsed a malformed feed in part, and why.
        unrecorded / unrecorded_since: unchanged polls not yet in the log, and when the first
            of them ran (live only; while they are pending, `last_poll`, `last_success`,
            `last_status` and `polls` already count them).
    """

    feed_id: str
    url: str | None = attrs.field(default=None, converter=_opt_str)
    moved_from: str | None = attrs.field(default=None, converter=_opt_str)
    last_poll: datetime | None = attrs.field(default=None, converter=parse_time)
    last_success: datetime | None = attrs.field(default=None, converter=parse_time)
    last_status: int | None = attrs.field(default=None, converter=_opt_int)
    etag: str | None = attrs.field(default=None, converter=_opt_str)
    last_modified: str | None = attrs.field(default=None, converter=_opt_str)
    items: int = attrs.field(default=0, converter=int)
    polls: int = attrs.field(default=0, converter=int)
    failures: int = attrs.field(default=0, converter=int)
    last_error: str | None = attrs.field(default=None, converter=_opt_str)
    last_error_kind: str | None = attrs.field(default=None, converter=_opt_str)
    retry_after: float | None = attrs.field(default=None, converter=_opt_float)
    disabled: bool = attrs.field(default=False, converter=bool)
    disabled_reason: str | None = attrs.field(default=None, converter=_opt_str)
    degraded: bool = attrs.field(default=False, converter=bool)
    problem: str | None = attrs.field(default=None, converter=_opt_str)
    unrecorded: int = attrs.field(default=0, converter=int)
    unrecorded_since: datetime | None = attrs.field(default=None, converter=parse_time)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready mapping that ``FeedState(**mapping)`` turns back into `self`:
        the projection's keys, plus `LIVE_KEYS` only while polls are unrecorded."""
        out = attrs.asdict(self)
        if not self.unrecorded:
            for key in LIVE_KEYS:
                del out[key]
        for key in ("last_poll", "last_success", "unrecorded_since"):
            if key not in out:
                continue
            if out[key] is not None:
                out[key] = format_time(out[key])
        return out
