"""What analysts say about alerts: `AlertAcknowledged` (someone on shift has seen it and owns
it) and `AlertFeedback` (a verdict on whether the rule was right, with a note).

Both are written by the console's actions (``monitor serve``) through `Monitor.acknowledge` and
`Monitor.feedback`. They never change the alert: the alert stays in the log as raised, and the
verdicts are counted beside it, so a rule's precision can be read from the log at any time.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from ..errors import ConfigError
from ._codec import Event, _required_time, _text, event

__all__ = ["VERDICTS", "AlertAcknowledged", "AlertFeedback"]

#: The verdicts `AlertFeedback` holds: the rule was right, or the alert was a false positive.
VERDICTS = ("true_positive", "false_positive")


@event("AlertAcknowledged", 1)
@attrs.frozen(kw_only=True)
class AlertAcknowledged(Event):
    """Alert `alert_id` (of rule `rule_id`) was acknowledged by `by` at `when`, with an optional
    `note`. Stored once per alert: the first acknowledgement is the one that counts."""

    alert_id: str
    rule_id: str
    when: datetime = attrs.field(converter=_required_time)
    by: str = ""
    note: str = attrs.field(default="", converter=_text)

    def dedupe_key(self) -> str:
        return f"ack:{self.alert_id}"


@event("AlertFeedback", 1)
@attrs.frozen(kw_only=True)
class AlertFeedback(Event):
    """An analyst's verdict on alert `alert_id` of rule `rule_id`: ``true_positive`` or
    ``false_positive`` (see `VERDICTS`), with a `note` saying why. An alert may get several
    (an analyst changes their mind); the latest in log order is the one that counts. Stored
    once per `feedback_id`."""

    feedback_id: str
    alert_id: str
    rule_id: str
    verdict: str
    when: datetime = attrs.field(converter=_required_time)
    by: str = ""
    note: str = attrs.field(default="", converter=_text)

    def __attrs_post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ConfigError(f"unknown verdict {self.verdict!r}; use one of {', '.join(VERDICTS)}")

    def dedupe_key(self) -> str:
        return f"feedback:{self.feedback_id}"
