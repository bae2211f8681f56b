"""Silences: the events that mute the delivery of matching alerts for a while, and what they mean.

A silence is a set of matchers over an alert's fields (Alertmanager's ``=``, ``!=``, ``=~``,
``!~``), a time range, and who made it and why. `SilenceCreated` records one; `SilenceExpired`
ends it early (``monitor alerts unsilence``). Whether a silence mutes an alert is defined here,
once, so delivery (`monitor.alerts`) and the listing (`monitor.projections.Silences`) give the
same answer: see `silence_applies`.

The keys a matcher (and a sink's ``group: {by: ...}``) may name are `MATCH_KEYS`: ``rule``,
``level``, ``group`` (the alert's group key), ``place`` and ``actor`` (its entities, without
the ``place:`` / ``actor:`` prefix), ``story``, ``feed``, ``source``, ``lang``, ``author``
(its item's keyword fields) and ``label.NAME`` (one of the rule's labels). A field can hold
several values (an alert about two places): ``=`` and ``=~`` match when any value matches,
``!=`` and ``!~`` when none does; a field without a value is the empty string, as a missing
label is in Alertmanager. Regular expressions are anchored at both ends, as there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

import attrs

from ..errors import ConfigError
from ._codec import Event, _required_time, event, parse_time
from ._types import AlertRaised

__all__ = [
    "MATCH_KEYS",
    "MATCH_OPS",
    "Matcher",
    "SilenceCreated",
    "SilenceExpired",
    "alert_values",
    "check_match_key",
    "parse_matcher",
    "silence_applies",
]

#: The operators of a matcher, as Alertmanager writes them.
MATCH_OPS = ("=", "!=", "=~", "!~")
#: The fields matchers and notification groups can name (plus ``label.NAME``).
MATCH_KEYS = (
    "rule",
    "level",
    "group",
    "place",
    "actor",
    "story",
    "feed",
    "source",
    "lang",
    "author",
)
_ENTITY_KEYS = ("place", "actor")
_FACET_KEYS = ("story", "feed", "source", "lang", "author")
_MATCHER_TEXT = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


def check_match_key(name: str) -> str:
    """Return `name` if matchers and groups may use it, else raise `ConfigError` naming the
    keys that exist."""
    if name in MATCH_KEYS or (name.startswith("label.") and len(name) > len("label.")):
        return name
    raise ConfigError(
        f"unknown match key {name!r}; use one of {', '.join(MATCH_KEYS)} or label.NAME"
    )


def alert_values(alert: AlertRaised, name: str) -> tuple[str, ...]:
    """The values `alert` has for the key `name` (see the module docstring); () when none."""
    if name == "rule":
        return (alert.rule_id,)
    if name == "level":
        return (alert.level,)
    if name == "group":
        return (alert.group_key,) if alert.group_key else ()
    if name in _ENTITY_KEYS:
        prefix = name + ":"
        return tuple(e[len(prefix) :] for e in alert.entities if e.startswith(prefix))
    if name in _FACET_KEYS:
        value = alert.facets.get(name)
        return (value,) if value else ()
    if name.startswith("label."):
        value = alert.labels.get(name[len("label.") :])
        return (value,) if value else ()
    raise ConfigError(f"unknown match key {name!r}")


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str]:
    # Compiled once per distinct expression (silences are few; alerts are many).
    return re.compile(text)


@attrs.frozen(kw_only=True)
class Matcher:
    """One condition of a silence: `name` `op` `value` (``place=al-tanf``, ``rule=~move.*``)."""

    name: str
    op: str = "="
    value: str = ""

    def __attrs_post_init__(self) -> None:
        check_match_key(self.name)
        if self.op not in MATCH_OPS:
            raise ConfigError(f"unknown match operator {self.op!r}; use one of =, !=, =~, !~")
        if self.op in ("=~", "!~"):
            try:
                _pattern(self.value)
            except re.error as exc:
                raise ConfigError(
                    f"{self.name}{self.op}{self.value}: not a valid regular expression: {exc}"
                ) from exc

    def _wanted(self) -> str:
        # ``place=place:al-tanf`` means ``place=al-tanf``: values are compared without prefix.
        prefix = self.name + ":"
        if self.name in _ENTITY_KEYS and self.value.startswith(prefix):
            return self.value[len(prefix) :]
        return self.value

    def matches(self, alert: AlertRaised) -> bool:
        """Whether `alert` satisfies this matcher (see the module docstring)."""
        values = alert_values(alert, self.name) or ("",)
        if self.op in ("=", "!="):
            wanted = self._wanted()
            hit = any(v == wanted for v in values)
        else:
            pattern = _pattern(self.value)
            hit = any(pattern.fullmatch(v) is not None for v in values)
        return hit if self.op in ("=", "=~") else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


def parse_matcher(text: str) -> Matcher:
    """Parse ``key=value``, ``key!=value``, ``key=~regex`` or ``key!~regex``."""
    found = _MATCHER_TEXT.match(text)
    if found is None:
        raise ConfigError(
            f"{text!r} is not a matcher; write key=value, key!=value, key=~regex or key!~regex"
        )
    name, op, value = found.groups()
    return Matcher(name=name, op=op, value=value)


def _matchers(values: Iterable[Matcher | Mapping[str, Any]]) -> tuple[Matcher, ...]:
    return tuple(v if isinstance(v, Matcher) else Matcher(**v) for v in values)


@event("SilenceCreated", 1)
@attrs.frozen(kw_only=True)
class SilenceCreated(Event):
    """A silence: alerts every matcher matches, raised in [`starts`, `ends`), are not delivered.

    `created_at` is when it was made (the creator's clock); `created_by` and `comment` say who
    and why. Stored once per `silence_id`.
    """

    silence_id: str
    matchers: tuple[Matcher, ...] = attrs.field(converter=_matchers)
    starts: datetime = attrs.field(converter=_required_time)
    ends: datetime = attrs.field(converter=_required_time)
    created_at: datetime = attrs.field(converter=_required_time)
    created_by: str = ""
    comment: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.matchers:
            raise ConfigError("a silence needs at least one matcher (--rule, --level, --match)")
        if self.ends <= self.starts:
            raise ConfigError(
                f"the silence ends ({self.ends:%Y-%m-%dT%H:%MZ}) before it starts "
                f"({self.starts:%Y-%m-%dT%H:%MZ}); give an end after the start"
            )

    def dedupe_key(self) -> str:
        return f"silence:{self.silence_id}"


@event("SilenceExpired", 1)
@attrs.frozen(kw_only=True)
class SilenceExpired(Event):
    """Silence `silence_id` was ended early, at `when`, by `by`. Stored once per silence."""

    silence_id: str
    when: datetime = attrs.field(converter=_required_time)
    by: str = ""

    def dedupe_key(self) -> str:
        return f"silence-expired:{self.silence_id}"


def silence_applies(silence: SilenceCreated, alert: AlertRaised, raised: datetime) -> bool:
    """Whether `silence` mutes `alert`, which was raised (appended to the log) at `raised`.

    The caller has already checked the log order: only a silence created before the alert in
    the log, and not expired before it, counts (see `monitor.alerts.SilenceBook`). The time
    compared is when the alert was raised, not its event time: a silence "for the next 6h"
    mutes what is raised in those hours, as Alertmanager mutes what it notifies then, even when
    the news behind it was published earlier.
    """
    when = parse_time(raised)
    assert when is not None
    if not silence.starts <= when < silence.ends:
        return False
    return all(m.matches(alert) for m in silence.matchers)
