"""The sink contract and the simple sinks: console, JSON lines file, Python callback.

A sink does one thing: deliver one `AlertRaised` somewhere, or raise `SinkError`. Everything
else (which alerts, in what order, retries, checkpoints, silences, grouping) is `Delivery`'s
job, so a sink stays a few lines and a new one is easy to write and register (`register_sink`).
A sink may also say how it sends a `Digest` (several alerts of a group, when its settings ask
for ``group:``) and a `Resolved` notice (``send_resolved: true``); by default a digest is sent
as its alerts one by one, and a sink without a resolved form refuses ``send_resolved``.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import attrs

from ..errors import SinkError
from ..events import AlertRaised, AlertSuperseded, format_time, to_plain
from ._grouping import Digest, GroupSettings, group_settings
from ._safe_output import safe_link

__all__ = [
    "LEVEL_ORDER",
    "CallbackSink",
    "ConsoleSettings",
    "ConsoleSink",
    "DeliveryContext",
    "ItemRef",
    "JsonlSettings",
    "JsonlSink",
    "Resolved",
    "Sink",
    "SinkSettings",
    "alert_json",
    "alert_line",
    "digest_json",
    "digest_lines",
    "resolved_json",
    "resolved_line",
]

#: Alert levels from least to most severe (as in the rule language).
LEVEL_ORDER = ("informational", "low", "medium", "high", "critical")


def _level(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).lower()
    if value not in LEVEL_ORDER:
        raise ValueError(f"level {value!r} is not one of {', '.join(LEVEL_ORDER)}")
    return value


def _str_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple):
        raise ValueError("expected a list of strings")
    return tuple(str(v) for v in value)


@attrs.frozen(kw_only=True)
class SinkSettings:
    """Settings every sink has: its name and which alerts it wants.

    `min_level` drops alerts below a level; `rules` keeps only the listed rule ids (empty: all).
    `group` sends alerts as digests per group (see `monitor.alerts.GroupSettings`);
    `send_resolved` sends a notice when an alert the sink received no longer matches after its
    item was revised (`AlertSuperseded`).
    """

    name: str
    min_level: str | None = attrs.field(default=None, converter=_level)
    rules: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    group: GroupSettings | None = attrs.field(default=None, converter=group_settings)
    send_resolved: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

    def wants(self, alert: AlertRaised) -> bool:
        """Whether this sink should receive `alert` at all."""
        if self.rules and alert.rule_id not in self.rules:
            return False
        if self.min_level is None:
            return True
        level = alert.level if alert.level in LEVEL_ORDER else "medium"
        return LEVEL_ORDER.index(level) >= LEVEL_ORDER.index(self.min_level)


@attrs.frozen
class ItemRef:
    """The headline and link of the item an alert is about, for lines people read."""

    title: str
    url: str | None = None


@attrs.frozen
class DeliveryContext:
    """What a sink is told beside the alert: its log position, the attempt number (1 = first
    try), the delivery clock's time (use it, not the wall clock, for timestamps), and the
    alert's item when the sink asked for it (`Sink.uses_item`) and it was found. For a digest,
    `items` holds the item of each of its alerts (None where not found) and `position` is the
    last alert's."""

    position: int
    attempt: int
    now: datetime
    item: ItemRef | None = None
    items: tuple[ItemRef | None, ...] = ()


@attrs.frozen
class Resolved:
    """A notice that `alert`, which the sink received, no longer matches its rule: its item
    was revised (`superseded` says to which revision). Alertmanager's "resolved"."""

    alert: AlertRaised
    superseded: AlertSuperseded

    @property
    def notice_id(self) -> str:
        """Stable id of the notice (the same on every retry): the alert id plus ``:resolved``."""
        return f"{self.alert.alert_id}:resolved"


class Sink(abc.ABC):
    """Delivers alerts to one destination. Subclasses set `type_name` and implement `deliver`.

    `deliver` must raise `SinkError` (never anything else) when the alert did not get through;
    `Delivery` then retries it later with backoff. Delivery is at-least-once: receivers that
    must not see a repeat dedupe on ``alert.alert_id``.
    """

    type_name: ClassVar[str] = ""
    #: Whether `deliver` shows the item's headline and link: `Delivery` then looks the item
    #: up (cached; see `ItemLookup`) and passes it as ``context.item``.
    uses_item: ClassVar[bool] = False

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings

    @property
    def name(self) -> str:
        """The sink's name from its settings: also its checkpoint, ``deliver:<name>``."""
        return self.settings.name

    #: Whether the sink has a form for `Resolved` notices (``send_resolved: true`` is refused
    #: on sinks without one).
    sends_resolved: ClassVar[bool] = False

    @abc.abstractmethod
    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        """Deliver `alert` or raise `SinkError`."""

    def deliver_digest(self, digest: Digest, context: DeliveryContext) -> None:
        """Deliver the alerts of `digest` as one notification, or raise `SinkError` (then the
        whole digest is retried). This default sends them one by one."""
        for i, alert in enumerate(digest.alerts):
            item = context.items[i] if i < len(context.items) else None
            self.deliver(alert, attrs.evolve(context, item=item))

    def deliver_resolved(self, notice: Resolved, context: DeliveryContext) -> None:
        """Deliver a resolved notice or raise `SinkError` (sinks with `sends_resolved`)."""
        raise SinkError(f"{self.name}: this sink cannot send resolved notices")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files. Called once when delivery stops."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def alert_json(alert: AlertRaised) -> dict[str, Any]:
    """The alert as a JSON-ready mapping (event fields plus ``type``)."""
    body = to_plain(alert)
    body["type"] = alert.type_name
    return body


def digest_json(digest: Digest) -> dict[str, Any]:
    """A digest as a JSON-ready mapping: ``type: alert.digest``, its id, the group's key
    values, the count and the alerts (each as `alert_json` gives it)."""
    return {
        "type": "alert.digest",
        "digest_id": digest.digest_id,
        "group": dict(digest.group),
        "count": len(digest.alerts),
        "alerts": [alert_json(a) for a in digest.alerts],
    }


def resolved_json(notice: Resolved) -> dict[str, Any]:
    """A resolved notice as a JSON-ready mapping: ``type: alert.resolved``, the alert, and the
    revision of its item that no longer matches."""
    s = notice.superseded
    return {
        "type": "alert.resolved",
        "alert_id": notice.alert.alert_id,
        "rule_id": notice.alert.rule_id,
        "item_id": s.item_id,
        "revision": s.revision,
        "resolved_at": format_time(s.event_time),
        "alert": alert_json(notice.alert),
    }


# C0 and C1 control characters (escape sequences among them) and line breaks: a feed's
# headline must not move the cursor, recolour the terminal or start a new line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def alert_line(alert: AlertRaised, item: ItemRef | None = None) -> str:
    """One readable line: event time, level, rule, place, then the item's headline and link.

    The place is the alert's group (its first place, or a correlation's group), ``-`` when it
    has none. Without `item` the rule's title stands in for the headline. Control characters
    and line breaks from the feed are replaced by spaces, so one alert is one line.
    """
    place = alert.group_key or next((e for e in alert.entities if e.startswith("place:")), "-")
    headline = _one_line(item.title) if item is not None and item.title.strip() else ""
    text = f"{format_time(alert.event_time)} {alert.level.upper():<8} {alert.rule_id} {place}"
    text += f" {headline or _one_line(alert.title)}"
    link = safe_link(item.url) if item is not None else None
    if link:
        text += f" <{_one_line(link)}>"
    return text


def digest_lines(digest: Digest, items: tuple[ItemRef | None, ...] = ()) -> list[str]:
    """A digest for people: a header line (how many alerts, which group), then one
    `alert_line` per alert, indented."""
    first, last = digest.alerts[0], digest.alerts[-1]
    span = f"{format_time(first.event_time)} .. {format_time(last.event_time)}"
    header = f"DIGEST {len(digest.alerts)} alert(s) {_one_line(digest.label())} ({span})"
    lines = [header]
    for i, alert in enumerate(digest.alerts):
        lines.append("  " + alert_line(alert, items[i] if i < len(items) else None))
    return lines


def resolved_line(notice: Resolved) -> str:
    """One line: the resolved notice's time, ``RESOLVED``, the rule, the place and the title."""
    alert, s = notice.alert, notice.superseded
    place = alert.group_key or next((e for e in alert.entities if e.startswith("place:")), "-")
    return (
        f"{format_time(s.event_time)} RESOLVED {alert.rule_id} {place} {_one_line(alert.title)}"
        f" (item {s.item_id} revision {s.revision} no longer matches; alert {alert.alert_id})"
    )


# --- console -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConsoleSettings(SinkSettings):
    """``console``: one line per alert on standard output (``format: json`` for JSON lines)."""

    format: str = attrs.field(default="text", validator=attrs.validators.in_(("text", "json")))


class ConsoleSink(Sink):
    """Writes alerts to the terminal. `write` replaces stdout (the CLI passes a rich printer)."""

    type_name = "console"
    uses_item = True
    sends_resolved = True
    settings: ConsoleSettings

    def __init__(
        self, settings: ConsoleSettings, *, write: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(settings)
        self._write = write

    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        if self.settings.format == "json":
            self._emit(json.dumps(alert_json(alert), ensure_ascii=False, sort_keys=True))
        else:
            self._emit(alert_line(alert, context.item))

    def deliver_digest(self, digest: Digest, context: DeliveryContext) -> None:
        if self.settings.format == "json":
            self._emit(json.dumps(digest_json(digest), ensure_ascii=False, sort_keys=True))
        else:
            # One write: the header and its alert lines stay together between other sinks'.
            self._emit("\n".join(digest_lines(digest, context.items)))

    def deliver_resolved(self, notice: Resolved, context: DeliveryContext) -> None:
        if self.settings.format == "json":
            self._emit(json.dumps(resolved_json(notice), ensure_ascii=False, sort_keys=True))
        else:
            self._emit(resolved_line(notice))

    def _emit(self, text: str) -> None:
        try:
            if self._write is not None:
                self._write(text)
            else:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
        except OSError as exc:
            raise SinkError(f"{self.name}: cannot write to the console: {exc}") from exc


# --- JSON lines file ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class JsonlSettings(SinkSettings):
    """``jsonl``: append one JSON object per alert to `path` (created with its folders)."""

    path: str = attrs.field(converter=str)
    fsync: bool = False


class JsonlSink(Sink):
    """Appends alerts as JSON lines. Each line is flushed (and fsynced when asked) before
    `deliver` returns, so a delivered alert is in the file."""

    type_name = "jsonl"
    sends_resolved = True
    settings: JsonlSettings

    def __init__(self, settings: JsonlSettings) -> None:
        super().__init__(settings)
        self._file: Any = None
        self._lock = threading.Lock()

    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        self._append(alert_json(alert))

    def deliver_digest(self, digest: Digest, context: DeliveryContext) -> None:
        self._append(digest_json(digest))

    def deliver_resolved(self, notice: Resolved, context: DeliveryContext) -> None:
        self._append(resolved_json(notice))

    def _append(self, body: dict[str, Any]) -> None:
        line = json.dumps(body, ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock:
            try:
                if self._file is None:
                    path = Path(self.settings.path)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = path.open("a", encoding="utf-8")
                self._file.write(line)
                self._file.flush()
                if self.settings.fsync:
                    os.fsync(self._file.fileno())
            except OSError as exc:
                self._close()
                raise SinkError(
                    f"{self.name}: cannot append to {self.settings.path}: {exc}"
                ) from exc

    def _close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def close(self) -> None:
        with self._lock:
            self._close()


# --- Python callback ---------------------------------------------------------------------------


class CallbackSink(Sink):
    """Calls a Python function with each alert: what `Monitor.on_alert` is built on.

    An exception from the callback becomes a `SinkError`, so the alert is retried later rather
    than lost, and a buggy callback never stops the other sinks.
    """

    type_name = "callback"

    def __init__(
        self,
        callback: Callable[[AlertRaised], object],
        *,
        name: str = "callback",
        min_level: str | None = None,
        rules: tuple[str, ...] = (),
    ) -> None:
        super().__init__(SinkSettings(name=name, min_level=min_level, rules=rules))
        self.callback = callback

    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        try:
            self.callback(alert)
        except Exception as exc:
            raise SinkError(
                f"{self.name}: the callback raised {type(exc).__name__}: {exc}"
            ) from exc
