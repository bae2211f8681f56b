"""The e-mail sink (smtplib over verified TLS) and the Apprise sink (optional extra).

E-mail always uses TLS with ``ssl.create_default_context()``: certificates are verified and the
host name checked, whether the connection starts in TLS (``security: ssl``, port 465) or is
upgraded with STARTTLS (``security: starttls``, port 587, the default). Passwords come from
`password` or, better, the environment variable named by `password_env` or the file named by
`password_file` (see `monitor.alerts._secrets`).

Apprise (https://github.com/caronc/apprise) reaches dozens of chat services through URLs such as
``tgram://`` or ``discord://``. It is an optional extra: ``pip install 'news-monitor[apprise]'``.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import attrs

from ..errors import SinkError
from ..events import AlertRaised, format_time
from ._grouping import Digest
from ._secrets import read_sink_secret, secret_source
from ._sink import (
    DeliveryContext,
    ItemRef,
    Resolved,
    Sink,
    SinkSettings,
    _str_tuple,
    alert_line,
    digest_lines,
    resolved_line,
)

__all__ = [
    "AppriseSettings",
    "AppriseSink",
    "EmailSettings",
    "EmailSink",
    "digest_body",
    "email_body",
]

#: Severity rank of a level, for a digest's subject (its most severe alert).
LEVELS = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def _recipients(value: Any) -> tuple[str, ...]:
    result = _str_tuple(value)
    if not result:
        raise ValueError("'to' must list at least one address")
    return result


@attrs.frozen(kw_only=True)
class EmailSettings(SinkSettings):
    """``email``: send each alert as a plain-text message."""

    host: str
    sender: str
    to: tuple[str, ...] = attrs.field(converter=_recipients)
    port: int | None = attrs.field(default=None, converter=attrs.converters.optional(int))
    security: str = attrs.field(
        default="starttls", validator=attrs.validators.in_(("starttls", "ssl"))
    )
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    password_env: str | None = None
    password_file: str | None = None
    timeout: float = attrs.field(default=30.0, converter=float)
    subject_prefix: str = "[news-monitor]"

    def __attrs_post_init__(self) -> None:
        secret_source(self.password, self.password_env, self.password_file, "password")


def email_body(alert: AlertRaised, item: ItemRef | None = None) -> str:
    """The plain-text body: the alert line (with the item's headline and link when given),
    annotations, evidence and item ids."""
    lines = [alert_line(alert, item), ""]
    lines += [f"{k}: {v}" for k, v in sorted(alert.annotations.items())]
    if alert.evidence:
        lines += ["", "Evidence:"]
        lines += [f"  {e.field}[{e.start}:{e.end}] “{e.text}”" for e in alert.evidence]
    if alert.window_start and alert.window_end:
        window = f"{format_time(alert.window_start)} .. {format_time(alert.window_end)}"
        lines += ["", f"Window: {window}"]
    lines += ["", "Items: " + ", ".join(alert.item_ids), f"Alert id: {alert.alert_id}"]
    return "\n".join(lines) + "\n"


def digest_body(digest: Digest, items: tuple[ItemRef | None, ...] = ()) -> str:
    """The plain-text body of a digest: the list of its alerts, then each alert in full."""
    parts = ["\n".join(digest_lines(digest, items))]
    for i, alert in enumerate(digest.alerts):
        parts.append(email_body(alert, items[i] if i < len(items) else None))
    return "\n\n".join(parts).rstrip("\n") + "\n"


class EmailSink(Sink):
    """Sends alerts by SMTP. One connection per alert: alerts are rare and connections to
    mail relays do not stay healthy for long."""

    type_name = "email"
    uses_item = True
    sends_resolved = True
    settings: EmailSettings

    def _password(self) -> str | None:
        s = self.settings
        return read_sink_secret(s.name, "password", s.password, s.password_env, s.password_file)

    def message(
        self, alert: AlertRaised, *, now: datetime | None = None, item: ItemRef | None = None
    ) -> EmailMessage:
        """Build the message for `alert`, dated `now` (the delivery clock; default: the wall
        clock) in UTC."""
        msg = EmailMessage()
        msg["Subject"] = f"{self.settings.subject_prefix} {alert.level.upper()}: {alert.title}"
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(self.settings.to)
        msg["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
        msg["Message-ID"] = f"<{alert.alert_id}@news-monitor>"
        msg.set_content(email_body(alert, item))
        return msg

    def digest_message(
        self, digest: Digest, *, now: datetime, items: tuple[ItemRef | None, ...] = ()
    ) -> EmailMessage:
        """One message for every alert of `digest`, dated `now`."""
        top = max(digest.alerts, key=lambda a: LEVELS.get(a.level, 2)).level
        subject = f"{len(digest.alerts)} alerts ({top.upper()}): {digest.label()}"
        return self._message(subject, digest_body(digest, items), now, digest.digest_id)

    def resolved_message(self, notice: Resolved, *, now: datetime) -> EmailMessage:
        """The message for a resolved notice, dated `now`."""
        subject = f"RESOLVED: {notice.alert.title}"
        body = resolved_line(notice) + "\n"
        return self._message(subject, body, now, notice.notice_id.replace(":", "."))

    def _message(self, subject: str, body: str, now: datetime, msg_id: str) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"{self.settings.subject_prefix} {subject}"
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(self.settings.to)
        msg["Date"] = format_datetime(now.astimezone(UTC))
        msg["Message-ID"] = f"<{msg_id}@news-monitor>"
        msg.set_content(body)
        return msg

    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        self._send(self.message(alert, now=context.now, item=context.item))

    def deliver_digest(self, digest: Digest, context: DeliveryContext) -> None:
        self._send(self.digest_message(digest, now=context.now, items=context.items))

    def deliver_resolved(self, notice: Resolved, context: DeliveryContext) -> None:
        self._send(self.resolved_message(notice, now=context.now))

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        tls = ssl.create_default_context()
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port or 465, timeout=s.timeout, context=tls
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port or 587, timeout=s.timeout)
            with smtp:
                if s.security == "starttls":
                    smtp.starttls(context=tls)
                password = self._password()
                if s.username and password is not None:
                    smtp.login(s.username, password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            if isinstance(exc, SinkError):
                raise
            raise SinkError(f"{self.name}: sending mail via {s.host} failed: {exc}") from exc


@attrs.frozen(kw_only=True)
class AppriseSettings(SinkSettings):
    """``apprise``: notify every Apprise URL in `urls`."""

    urls: tuple[str, ...] = attrs.field(converter=_recipients)


def _import_apprise() -> Any:
    try:
        import apprise  # optional extra
    except ImportError:
        return None
    return apprise


class AppriseSink(Sink):
    """Notifies chat services through Apprise URLs (optional extra, imported on first use)."""

    type_name = "apprise"
    uses_item = True
    settings: AppriseSettings

    def __init__(self, settings: AppriseSettings) -> None:
        super().__init__(settings)
        apprise = _import_apprise()
        if apprise is None:
            raise SinkError(
                f"{self.name}: the apprise sink needs the optional package apprise; install it "
                "with: pip install 'news-monitor[apprise]'"
            )
        self._apprise = apprise.Apprise()
        for url in settings.urls:
            if not self._apprise.add(url):
                raise SinkError(f"{self.name}: Apprise does not understand the URL {url!r}")

    sends_resolved = True

    def deliver(self, alert: AlertRaised, context: DeliveryContext) -> None:
        self._notify(f"{alert.level.upper()}: {alert.title}", email_body(alert, context.item))

    def deliver_digest(self, digest: Digest, context: DeliveryContext) -> None:
        title = f"{len(digest.alerts)} alerts: {digest.label()}"
        self._notify(title, digest_body(digest, context.items))

    def deliver_resolved(self, notice: Resolved, context: DeliveryContext) -> None:
        self._notify(f"RESOLVED: {notice.alert.title}", resolved_line(notice))

    def _notify(self, title: str, body: str) -> None:
        if not self._apprise.notify(title=title, body=body):
            raise SinkError(f"{self.name}: Apprise could not notify every URL")
