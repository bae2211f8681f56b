"""Notification grouping: a sink's ``group: {by, wait, interval}`` and the `Grouper` that holds
alerts until their group's digest is due (Alertmanager's ``group_by``, ``group_wait`` and
``group_interval``).

A group is the alerts that share the values of the `by` keys (the keys silences match on:
``rule``, ``level``, ``place``, ``group``, ``story``, ``feed``, ``label.NAME``...; a
many-valued key such as ``place`` groups by the alert's first value). The first alert of a new
group starts it; its digest is due `wait` after that alert was raised, so alerts raised
meanwhile go out in the same digest. After a digest, alerts of the group raised within
`interval` of it wait for the next digest, due `interval` after the last one; an alert raised
later starts the group afresh (and waits `wait` again).

Times: when an alert was raised is its record's time in the log, so a restart does not restart
the wait; whether a digest is due is asked of the delivery clock. When the last digest was sent
is kept in memory only: after a restart a group's next digest may come sooner than `interval`
after the previous one (never later, and no alert is lost).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from .._durations import parse_duration
from ..errors import ConfigError
from ..events import AlertRaised, alert_values, check_match_key

__all__ = ["Digest", "GroupSettings", "Grouper", "group_settings"]


def _seconds(value: Any, what: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"'group' {what}: {exc}") from None


@attrs.frozen(kw_only=True)
class GroupSettings:
    """How a sink groups alerts: `by` keys, `wait` and `interval` in seconds."""

    by: tuple[str, ...] = ("rule",)
    wait: float = 30.0
    interval: float = 300.0


def group_settings(value: Any) -> GroupSettings | None:
    """Build `GroupSettings` from a sink file's ``group:`` mapping (``{by: [rule, place],
    wait: 30s, interval: 5m}``); None stays None. Raises ValueError saying what to fix."""
    if value is None or isinstance(value, GroupSettings):
        return value
    if not isinstance(value, Mapping):
        raise ValueError("'group' must be a mapping such as {by: [rule, place], wait: 30s}")
    unknown = sorted(set(value) - {"by", "wait", "interval"})
    if unknown:
        raise ValueError(f"'group' has no setting {unknown[0]!r}; use by, wait and interval")
    by = value.get("by", ["rule"])
    if isinstance(by, str):
        by = [by]
    if not isinstance(by, Sequence) or not all(isinstance(k, str) for k in by):
        raise ValueError("'group' by: must be a list of keys such as [rule, place]")
    try:
        keys = tuple(check_match_key(k) for k in by)
    except ConfigError as exc:
        raise ValueError(f"'group' by: {exc}") from None
    wait = _seconds(value.get("wait", 30), "wait")
    interval = _seconds(value.get("interval", 300), "interval")
    if interval <= 0:
        raise ValueError("'group' interval: must be more than 0s")
    return GroupSettings(by=keys, wait=wait, interval=interval)


@attrs.frozen
class Digest:
    """One notification for several alerts of a group: the group's key values and the alerts
    in log order. `digest_id` names its content (the same alerts give the same id, so a digest
    sent again after a crash can be recognised)."""

    group: tuple[tuple[str, str], ...]
    alerts: tuple[AlertRaised, ...]

    @property
    def digest_id(self) -> str:
        """32 hex digits over the alert ids."""
        text = "\n".join(a.alert_id for a in self.alerts)
        return "digest-" + hashlib.sha256(text.encode()).hexdigest()[:32]

    def label(self) -> str:
        """``rule=movement place=al-tanf``: the group in a few words."""
        return " ".join(f"{k}={v or '-'}" for k, v in self.group) or "all"


@attrs.define
class _Group:
    key: tuple[tuple[str, str], ...]
    due: datetime
    alerts: list[tuple[int, AlertRaised]] = attrs.field(factory=list)
    last_sent: datetime | None = None


class Grouper:
    """The alerts of one sink waiting for their digest (see the module docstring). Used by one
    delivery thread only."""

    def __init__(self, settings: GroupSettings) -> None:
        self.settings = settings
        self._groups: dict[tuple[tuple[str, str], ...], _Group] = {}

    def key(self, alert: AlertRaised) -> tuple[tuple[str, str], ...]:
        """The group `alert` belongs to: each `by` key with the alert's first value."""
        return tuple((k, next(iter(alert_values(alert, k)), "")) for k in self.settings.by)

    def add(self, position: int, alert: AlertRaised, raised: datetime) -> None:
        """Hold `alert` (at log `position`, raised at `raised`) in its group."""
        key = self.key(alert)
        group = self._groups.get(key)
        wait = timedelta(seconds=self.settings.wait)
        interval = timedelta(seconds=self.settings.interval)
        if group is None:
            group = self._groups[key] = _Group(key, raised + wait)
        elif not group.alerts and group.last_sent is not None:
            if raised < group.last_sent + interval:
                group.due = group.last_sent + interval
            else:  # quiet for a whole interval: the group starts afresh
                group.due = raised + wait
        group.alerts.append((position, alert))

    def held(self) -> int:
        """How many alerts wait for a digest."""
        return sum(len(g.alerts) for g in self._groups.values())

    def oldest(self) -> int | None:
        """The log position of the oldest alert waiting, None when none waits."""
        return min((g.alerts[0][0] for g in self._groups.values() if g.alerts), default=None)

    def due(self, now: datetime) -> list[tuple[Digest, tuple[int, ...]]]:
        """The digests due at `now` with the log positions of their alerts, oldest alert
        first (the alerts stay held until `sent`)."""
        ready = [g for g in self._groups.values() if g.alerts and g.due <= now]
        ready.sort(key=lambda g: g.alerts[0][0])
        return [
            (Digest(g.key, tuple(a for _, a in g.alerts)), tuple(p for p, _ in g.alerts))
            for g in ready
        ]

    def next_due(self) -> datetime | None:
        """When the next digest falls due, None when no alert waits."""
        return min((g.due for g in self._groups.values() if g.alerts), default=None)

    def sent(self, digest: Digest, now: datetime) -> None:
        """Forget the alerts of `digest`, delivered at `now`; the group waits `interval`."""
        group = self._groups[digest.group]
        group.alerts = group.alerts[len(digest.alerts) :]
        group.last_sent = now
        group.due = now + timedelta(seconds=self.settings.interval)
        # Drop groups quiet for longer than an interval: memory follows the live groups only.
        horizon = now - timedelta(seconds=self.settings.interval)
        for key in [
            k
            for k, g in self._groups.items()
            if not g.alerts and g.last_sent is not None and g.last_sent < horizon
        ]:
            del self._groups[key]

    def discard(self, alert_id: str) -> bool:
        """Drop a waiting alert (superseded before its digest went out); True if it was held."""
        for group in self._groups.values():
            for i, (_pos, alert) in enumerate(group.alerts):
                if alert.alert_id == alert_id:
                    del group.alerts[i]
                    return True
        return False
