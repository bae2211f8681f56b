"""Alert delivery: sinks (console, JSON lines, webhook, e-mail, Apprise, callback) and the
`Delivery` subscriber that feeds them from the log, at-least-once, each sink at its own pace.

Configure sinks in YAML and load them with `load_sinks`; see `Delivery` for the guarantees.
"""

from ._config import SINK_TYPES, build_sink, load_sinks, register_sink
from ._delivery import Backoff, Delivery, DeliveryReport, SinkStatus
from ._email import AppriseSettings, AppriseSink, EmailSettings, EmailSink, email_body
from ._items import ItemLookup
from ._report import ReportData, collect_report, highlight, render_html
from ._secrets import SECRET_SETTINGS, read_sink_secret
from ._service import DeliveryService
from ._sink import (
    LEVEL_ORDER,
    CallbackSink,
    ConsoleSettings,
    ConsoleSink,
    DeliveryContext,
    ItemRef,
    JsonlSettings,
    JsonlSink,
    Sink,
    SinkSettings,
    alert_json,
    alert_line,
)
from ._webhook import WebhookSettings, WebhookSink, shown_url, sign, slack_payload

__all__ = [
    "LEVEL_ORDER",
    "SECRET_SETTINGS",
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
    "EmailSettings",
    "EmailSink",
    "ItemLookup",
    "ItemRef",
    "JsonlSettings",
    "JsonlSink",
    "ReportData",
    "Sink",
    "SinkSettings",
    "SinkStatus",
    "WebhookSettings",
    "WebhookSink",
    "alert_json",
    "alert_line",
    "build_sink",
    "collect_report",
    "email_body",
    "highlight",
    "load_sinks",
    "read_sink_secret",
    "register_sink",
    "render_html",
    "shown_url",
    "sign",
    "slack_payload",
]
