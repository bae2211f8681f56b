"""The webhook sink: POST each alert as JSON, signed the Standard Webhooks way.

Signing (https://www.standardwebhooks.com): three headers, ``webhook-id`` (the alert id, the
same on every retry, so receivers can dedupe), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` = ``v1,`` + base64 of HMAC-SHA256 over ``"{id}.{timestamp}.{body}"``
keyed with the secret. Secrets are written ``whsec_<base64 key>`` (the scheme's form); any
other string is used as the key bytes as it is. Keep secrets out of the YAML with
``secret_env: VARIABLE`` or ``secret_file: PATH`` (see `monitor.alerts._secrets`).

Transient failures (connection errors, timeouts, 408, 429, 5xx) are retried a few times with
exponential backoff inside one `deliver`; after that, and for any other non-2xx status, a
`SinkError` hands the alert back to `Delivery`, which retries it later: nothing is dropped.
``format: slack`` posts a Slack-compatible ``{"text", "blocks"}`` payload instead.

A digest (a sink with ``group:``) is one POST, ``{"type": "alert.digest", "data": {...,
"alerts": [...]}}`` with the digest's id as ``webhook-id``; a resolved notice is
``{"type": "alert.resolved", "data": {...}}`` with ``<alert id>:resolved``. In Slack form each
is one message listing its alerts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx

from ..errors import SinkError
from ..events import AlertRaised, format_time
from ._grouping import Digest
from ._safe_output import slack_escape
from ._secrets import read_sink_secret, secret_source
from ._sink import (
    DeliveryContext,
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

__all__ = ["WebhookSettings", "WebhookSink", "sign", "slack_digest", "slack_payload"]

#: Lines of alerts a Slack digest lists before it says "and N more" (a section holds 3,000
#: characters).
_SLACK_DIGEST_LINES = 20

_TRANSIENT = {408, 425, 429, 500, 502, 503, 504}


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("headers must be a mapping of header name to value")
    return {str(k): str(v) for k, v in value.items()}


def _url(value: Any) -> str:
    text = str(value)
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"url {text!r} must start with http:// or https://")
    return text


def shown_url(url: str) -> str:
    """`url` as it may appear in logs and status: scheme, host and port only. Webhook URLs often
    carry their secret in the path or query (Slack's ``/services/T…/B…/token``) or userinfo."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    tail = "/…" if parts.path.strip("/") or parts.query else "/"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{tail}"


@attrs.frozen(kw_only=True)
class WebhookSettings(SinkSettings):
    """``webhook``: POST JSON to `url`, optionally signed, with retries."""

    url: str = attrs.field(converter=_url)
    secret: str | None = attrs.field(default=None, repr=False)
    secret_env: str | None = None
    secret_file: str | None = None
    format: str = attrs.field(default="json", validator=attrs.validators.in_(("json", "slack")))
    timeout: float = attrs.field(default=10.0, converter=float)
    retries: int = attrs.field(default=3, converter=int)
    backoff: float = attrs.field(default=0.5, converter=float)
    headers: dict[str, str] = attrs.field(factory=dict, converter=_headers)

    def __attrs_post_init__(self) -> None:
        secret_source(self.secret, self.secret_env, self.secret_file, "secret")

    def key(self) -> bytes | None:
        """The HMAC key: from `secret`, the environment variable `secret_env`, or `secret_file`."""
        secret = read_sink_secret(
            self.name, "secret", self.secret, self.secret_env, self.secret_file
        )
        if secret is None:
            return None
        if secret.startswith("whsec_"):
            try:
                return base64.b64decode(secret[len("whsec_") :], validate=True)
            except ValueError as exc:
                raise SinkError(f"{self.name}: the whsec_ secret is not valid base64") from exc
        return secret.encode()


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the Standard Webhooks signature header value ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def slack_payload(alert: AlertRaised) -> dict[str, Any]:
    """A Slack incoming-webhook payload: a fallback `text` and a few blocks."""
    fields = [f"*Level:* {alert.level}", f"*Rule:* `{alert.rule_id}`"]
    if alert.group_key:
        fields.append(f"*Group:* {slack_escape(alert.group_key)}")
    fields.append(f"*Event time:* {format_time(alert.event_time)}")
    evidence = ", ".join(f"“{slack_escape(e.text)}” ({e.field})" for e in alert.evidence[:5])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150] or "Alert"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    summary = alert.annotations.get("summary")
    if summary:
        text = {"type": "mrkdwn", "text": slack_escape(summary)[:2900]}
        blocks.append({"type": "section", "text": text})
    if evidence:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Evidence: {evidence}"}]}
        )
    return {"text": slack_escape(alert_line(alert)), "blocks": blocks}


def slack_digest(digest: Digest) -> dict[str, Any]:
    """A Slack payload for a digest: a header naming the group, then one line per alert (the
    first 20, then how many more)."""
    header, *lines = digest_lines(digest)
    shown = [slack_escape(line.strip())[:140] for line in lines[:_SLACK_DIGEST_LINES]]
    if len(lines) > _SLACK_DIGEST_LINES:
        shown.append(f"… and {len(lines) - _SLACK_DIGEST_LINES} more")
    title = f"{len(digest.alerts)} alerts: {digest.label()}"[:150]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(shown)[:2900]}},
    ]
    return {"text": slack_escape(header), "blocks": blocks}


class WebhookSink(Sink):
    """POSTs alerts to an HTTP endpoint (see the module docstring for signing and retries)."""

    type_name = "webhook"
    settings: WebhookSettings

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings)
        self._client = client or httpx.Client(timeout=settings.timeout, follow_redirects=False)
        self._sleep = sleep

    def body(self, alert: AlertRaised) -> bytes:
        """The exact bytes posted (and signed) for `alert`."""
        if self.settings.format == "slack":
            payload = slack_payload(alert)
        else:
            payload = {"type": "alert.raised", "data": alert_json(alert)}
        return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()

    sends_resolved = True

    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        self._post(self.body(alert), alert.alert_id, context)

    def deliver_digest(self, digest: Digest, context: DeliveryContext) -> None:
        if self.settings.format == "slack":
            payload = slack_digest(digest)
        else:
            payload = {"type": "alert.digest", "data": digest_json(digest)}
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        self._post(body, digest.digest_id, context)

    def deliver_resolved(self, notice: Resolved, context: DeliveryContext) -> None:
        if self.settings.format == "slack":
            payload: dict[str, Any] = {"text": slack_escape(resolved_line(notice))}
        else:
            payload = {"type": "alert.resolved", "data": resolved_json(notice)}
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        self._post(body, notice.notice_id, context)

    def _post(self, body: bytes, msg_id: str, context: DeliveryContext) -> None:
        timestamp = int(context.now.timestamp())
        headers = {"content-type": "application/json", **self.settings.headers}
        headers["webhook-id"] = msg_id
        headers["webhook-timestamp"] = str(timestamp)
        key = self.settings.key()
        if key is not None:
            headers["webhook-signature"] = sign(key, msg_id, timestamp, body)
        attempts = max(1, self.settings.retries)
        problem = ""
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.settings.backoff * 2 ** (attempt - 1))
            try:
                response = self._client.post(self.settings.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= response.status_code < 300:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code not in _TRANSIENT:
                break
        raise SinkError(f"{self.name}: POST {shown_url(self.settings.url)} failed ({problem})")

    def close(self) -> None:
        self._client.close()
