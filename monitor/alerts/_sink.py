"""The sink contract and the simple sinks: console, JSON lines file, Python callback.

A sink does one thing: deliver one `AlertRaised` somewhere, or raise `SinkError`. Everything
else (which alerts, in what order, retries, checkpoints) is `Delivery`'s job, so a sink stays a
few lines and a new one is easy to write and register (`register_sink`).
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import attrs

from ..errors import SinkError
from ..events import AlertRaised, format_time, to_plain

__all__ = [
    "LEVEL_ORDER",
    "CallbackSink",
    "ConsoleSettings",
    "ConsoleSink",
    "DeliveryContext",
    "JsonlSettings",
    "JsonlSink",
    "Sink",
    "SinkSettings",
    "alert_json",
    "alert_line",
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
    """

    name: str
    min_level: str | None = attrs.field(default=None, converter=_level)
    rules: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)

    def wants(self, alert: AlertRaised) -> bool:
        """Whether this sink should receive `alert` at all."""
        if self.rules and alert.rule_id not in self.rules:
            return False
        if self.min_level is None:
            return True
        level = alert.level if alert.level in LEVEL_ORDER else "medium"
        return LEVEL_ORDER.index(level) >= LEVEL_ORDER.index(self.min_level)


@attrs.frozen
class DeliveryContext:
    """What a sink is told beside the alert: its log position, the attempt number (1 = first
    try), and the delivery clock's time (use it, not the wall clock, for timestamps)."""

    position: int
    attempt: int
    now: datetime


class Sink(abc.ABC):
    """Delivers alerts to one destination. Subclasses set `type_name` and implement `deliver`.

    `deliver` must raise `SinkError` (never anything else) when the alert did not get through;
    `Delivery` then retries it later with backoff. Delivery is at-least-once: receivers that
    must not see a repeat dedupe on ``alert.alert_id``.
    """

    type_name: ClassVar[str] = ""

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings

    @property
    def name(self) -> str:
        """The sink's name from its settings: also its checkpoint, ``deliver:<name>``."""
        return self.settings.name

    @abc.abstractmethod
    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        """Deliver `alert` or raise `SinkError`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files. Called once when delivery stops."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def alert_json(alert: AlertRaised) -> dict[str, Any]:
    """The alert as a JSON-ready mapping (event fields plus ``type``)."""
    body = to_plain(alert)
    body["type"] = alert.type_name
    return body


def alert_line(alert: AlertRaised) -> str:
    """One readable line: level, event time, rule, group, title and summary."""
    summary = alert.annotations.get("summary", "")
    group = f" [{alert.group_key}]" if alert.group_key else ""
    text = f"{alert.level.upper():<8} {format_time(alert.event_time)} {alert.rule_id}{group}"
    text += f" {alert.title}"
    if summary and summary != alert.title:
        text += f" — {summary}"
    return text


# --- console -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConsoleSettings(SinkSettings):
    """``console``: one line per alert on standard output (``format: json`` for JSON lines)."""

    format: str = attrs.field(default="text", validator=attrs.validators.in_(("text", "json")))


class ConsoleSink(Sink):
    """Writes alerts to the terminal. `write` replaces stdout (the CLI passes a rich printer)."""

    type_name = "console"
    settings: ConsoleSettings

    def __init__(
        self, settings: ConsoleSettings, *, write: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(settings)
        self._write = write

    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        if self.settings.format == "json":
            text = json.dumps(alert_json(alert), ensure_ascii=False, sort_keys=True)
        else:
            text = alert_line(alert)
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
    settings: JsonlSettings

    def __init__(self, settings: JsonlSettings) -> None:
        super().__init__(settings)
        self._file: Any = None
        self._lock = threading.Lock()

    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        line = json.dumps(alert_json(alert), ensure_ascii=False, sort_keys=True) + "\n"
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
