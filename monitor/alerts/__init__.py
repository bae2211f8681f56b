"""Alert delivery: sinks (console, JSON lines, webhook, e-mail, Apprise, callback) and the
`Delivery` subscriber that feeds them from the log, at-least-once, each sink at its own pace.

Configure sinks in YAML and load them with `load_sinks`; see `Delivery` for the guarantees.
Silences (`SilenceBook`) and notification grouping (`GroupSettings`, `Digest`) are applied
here, at delivery: the log keeps every alert.
"""

from ._charts import CHART_CSS, daily_chart
from ._config import SINK_TYPES, build_sink, load_sinks, register_sink
from ._delivery import Backoff, Delivery, DeliveryReport, SinkStatus
from ._email import (
    AppriseSettings,
    AppriseSink,
    EmailSettings,
    EmailSink,
    digest_body,
    email_body,
)
from ._grouping import Digest, Grouper, GroupSettings, group_settings
from ._items import ItemLookup
from ._report import ReportData, collect_report, highlight, render_html
from ._resolved import RaisedLookup
from ._safe_output import safe_link
from ._secrets import SECRET_SETTINGS, read_sink_secret
from ._service import DeliveryService
from ._silences import SILENCE_TYPES, SilenceBook
from ._sink import (
    LEVEL_ORDER,
    CallbackSink,
    ConsoleSettings,
    ConsoleSink,
    DeliveryContext,
    ItemRef,
    JsonlSettings,
    JsonlSink,
    Resolved,
    Sink,
    SinkSettings,
    alert_json,
    alert_line,
    digest_json,
    digest_lines,
    resolved_json,
    resolved_line,
)
from ._webhook import (
    WebhookSettings,
    WebhookSink,
    shown_url,
    sign,
    slack_digest,
    slack_payload,
)

__all__ = [
    "CHART_CSS",
    "LEVEL_ORDER",
    "SECRET_SETTINGS",
    "SILENCE_TYPES",
    "SINK_TYPES",
    "AppriseSettings",
    "AppriseSink",
    "Backoff",
    "CallbackSink",
    "ConsoleSettings",
    "ConsoleSink",
    "Delivery",
    "DeliveryContext",
    "DeliveryReport",
    "DeliveryService",
    "Digest",
    "EmailSettings",
    "EmailSink",
    "GroupSettings",
    "Grouper",
    "ItemLookup",
    "ItemRef",
    "JsonlSettings",
    "JsonlSink",
    "RaisedLookup",
    "ReportData",
    "Resolved",
    "SilenceBook",
    "Sink",
    "SinkSettings",
    "SinkStatus",
    "WebhookSettings",
    "WebhookSink",
    "alert_json",
    "alert_line",
    "build_sink",
    "collect_report",
    "daily_chart",
    "digest_body",
    "digest_json",
    "digest_lines",
    "email_body",
    "group_settings",
    "highlight",
    "load_sinks",
    "read_sink_secret",
    "register_sink",
    "render_html",
    "resolved_json",
    "resolved_line",
    "safe_link",
    "shown_url",
    "sign",
    "slack_digest",
    "slack_payload",
]
