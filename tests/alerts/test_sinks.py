"""Sinks and their configuration: console, JSON lines, webhook signing/retries, e-mail, Apprise."""

from __future__ import annotations

import base64
import json
import smtplib
import ssl
from datetime import UTC, datetime
from typing import ClassVar

import attrs
import pytest
from werkzeug import Request, Response

from monitor.alerts import (
    CallbackSink,
    ConsoleSettings,
    ConsoleSink,
    DeliveryContext,
    EmailSettings,
    EmailSink,
    JsonlSettings,
    JsonlSink,
    WebhookSettings,
    WebhookSink,
    load_sinks,
    sign,
    slack_payload,
)
from monitor.errors import ConfigError, SinkError
from monitor.events import AlertRaised, Evidence

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CTX = DeliveryContext(position=7, attempt=1, now=NOW)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def make_alert(n: int = 1, *, level: str = "high", rule: str = "movement") -> AlertRaised:
    """A detection alert about Abu Kamal with one evidence span."""
    return AlertRaised(
        alert_id=f"alert{n:04d}",
        rule_id=rule,
        level=level,
        title="Troop or convoy movement",
        item_ids=(f"item{n}",),
        entities=("place:abu-kamal",),
        evidence=(Evidence(field="title", start=0, end=6, text="Convoy", selection="move"),),
        group_key="place:abu-kamal",
        event_time=datetime(2026, 3, 1, 9, n % 60, tzinfo=UTC),
        annotations={"summary": f"Convoy number {n} seen near Abu Kamal"},
    )


def test_standard_webhooks_signature_matches_the_reference_vector():
    """sign() reproduces the Standard Webhooks reference signature for its published example."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    body = b'{"test": 2432232314}'
    assert (
        sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_webhook_posts_signed_json(httpserver):
    """The POST carries the alert JSON and id/timestamp/signature headers that verify."""
    received = []

    def handler(request: Request) -> Response:
        received.append((dict(request.headers), request.get_data()))
        return Response("ok", 200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    sink = WebhookSink(WebhookSettings(name="w", url=httpserver.url_for("/hook"), secret=SECRET))
    sink.deliver(make_alert(), CTX)
    ((headers, body),) = received
    assert headers["Webhook-Id"] == "alert0001"
    assert headers["Webhook-Timestamp"] == str(int(NOW.timestamp()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    assert headers["Webhook-Signature"] == sign(key, "alert0001", int(NOW.timestamp()), body)
    payload = json.loads(body)
    assert payload["type"] == "alert.raised"
    assert payload["data"]["rule_id"] == "movement"
    assert payload["data"]["evidence"][0]["text"] == "Convoy"


def test_webhook_slack_format(httpserver):
    """format: slack posts {text, blocks} with the title, level and evidence."""
    httpserver.expect_request("/slack").respond_with_data("ok")
    sink = WebhookSink(WebhookSettings(name="s", url=httpserver.url_for("/slack"), format="slack"))
    sink.deliver(make_alert(), CTX)
    payload = json.loads(httpserver.log[0][0].get_data())
    assert "movement" in payload["text"]
    assert payload["blocks"][0]["text"]["text"] == "Troop or convoy movement"
    assert "Convoy" in json.dumps(payload["blocks"])
    assert "Webhook-Signature" not in httpserver.log[0][0].headers


def test_slack_payload_cannot_carry_links_or_mentions_from_a_feed():
    """Item text in Slack mrkdwn is escaped: `<javascript:...|here>` and `<!channel>` written by
    a feed reach Slack as text, not as a link or a mention."""
    hostile = "<!channel> read <javascript:alert(1)|this> & <https://evil.example|that>"
    alert = attrs.evolve(
        make_alert(),
        group_key="place:<!here>",
        evidence=(Evidence(field="title", start=0, end=9, text="<!channel>", selection="m"),),
        annotations={"summary": hostile},
    )
    mrkdwn = json.dumps(
        [b for b in slack_payload(alert)["blocks"] if b["type"] != "header"], ensure_ascii=False
    )
    assert "<" not in mrkdwn and ">" not in mrkdwn
    assert "&lt;!channel&gt; read &lt;javascript:alert(1)|this&gt; &amp; " in mrkdwn
    assert "place:&lt;!here&gt;" in mrkdwn


def test_webhook_retries_transient_errors_with_backoff(httpserver):
    """503 twice then 200: one deliver succeeds after two backoff sleeps (0.5s, 1s)."""
    statuses = iter([503, 503, 200])
    httpserver.expect_request("/hook").respond_with_handler(lambda _r: Response("", next(statuses)))
    sleeps: list[float] = []
    sink = WebhookSink(
        WebhookSettings(name="w", url=httpserver.url_for("/hook")), sleep=sleeps.append
    )
    sink.deliver(make_alert(), CTX)
    assert sleeps == [0.5, 1.0] and len(httpserver.log) == 3


def test_webhook_client_error_is_not_retried_inside_deliver(httpserver):
    """A 400 fails at once with a SinkError naming the status (Delivery retries later)."""
    httpserver.expect_request("/hook").respond_with_data("bad", status=400)
    sink = WebhookSink(WebhookSettings(name="w", url=httpserver.url_for("/hook")), sleep=print)
    with pytest.raises(SinkError, match="HTTP 400"):
        sink.deliver(make_alert(), CTX)
    assert len(httpserver.log) == 1


def test_webhook_unreachable_is_a_sink_error():
    """A refused connection becomes a SinkError after the retries, not an httpx exception."""
    sink = WebhookSink(
        WebhookSettings(name="w", url="http://127.0.0.1:9/hook", retries=2), sleep=lambda _s: None
    )
    with pytest.raises(SinkError, match="ConnectError"):
        sink.deliver(make_alert(), CTX)


def test_webhook_failure_never_shows_the_secret_part_of_its_url(httpserver):
    """Webhook URLs carry their secret in the path (Slack's /services/T/B/token), the query or
    userinfo: a failure (logged, shown in delivery status) names only scheme, host and port."""
    httpserver.expect_request("/services/T1/B2/s3cret-token").respond_with_data("", status=404)
    url = httpserver.url_for("/services/T1/B2/s3cret-token") + "?key=s3cret-key"
    sink = WebhookSink(WebhookSettings(name="w", url=url), sleep=lambda _s: None)
    with pytest.raises(SinkError) as info:
        sink.deliver(make_alert(), CTX)
    message = str(info.value)
    assert f"POST http://{httpserver.host}:{httpserver.port}/… failed (HTTP 404)" in message
    assert "s3cret" not in message


def test_console_and_jsonl_sinks(tmp_path):
    """Console writes one readable line; jsonl appends one JSON object per alert."""
    lines: list[str] = []
    ConsoleSink(ConsoleSettings(name="c"), write=lines.append).deliver(make_alert(), CTX)
    line = "2026-03-01T09:01:00Z HIGH     movement place:abu-kamal Troop or convoy movement"
    assert lines == [line]
    path = tmp_path / "out" / "alerts.jsonl"
    sink = JsonlSink(JsonlSettings(name="j", path=str(path)))
    sink.deliver(make_alert(1), CTX)
    sink.deliver(make_alert(2), CTX)
    sink.close()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["alert_id"] for r in rows] == ["alert0001", "alert0002"]
    assert rows[0]["type"] == "AlertRaised"


def test_jsonl_unwritable_path_is_a_sink_error(tmp_path):
    """A path that cannot be opened gives a SinkError naming the file."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    sink = JsonlSink(JsonlSettings(name="j", path=str(blocker / "alerts.jsonl")))
    with pytest.raises(SinkError, match="cannot append"):
        sink.deliver(make_alert(), CTX)


def test_callback_sink_wraps_exceptions():
    """A callback's exception becomes a SinkError so the alert is retried, not lost."""
    got: list[AlertRaised] = []
    CallbackSink(got.append).deliver(make_alert(), CTX)
    assert got[0].alert_id == "alert0001"

    def broken(_alert):
        raise RuntimeError("boom")

    with pytest.raises(SinkError, match="RuntimeError: boom"):
        CallbackSink(broken).deliver(make_alert(), CTX)


class FakeSMTP:
    """Records what smtplib would have done; `fail` makes send_message raise."""

    instances: ClassVar[list[FakeSMTP]] = []
    fail = False

    def __init__(self, host, port, timeout=None, context=None):
        self.host, self.port, self.context = host, port, context
        self.calls: list[tuple] = []
        FakeSMTP.instances.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.calls.append(("quit",))

    def starttls(self, context=None):
        self.calls.append(("starttls", context))

    def login(self, user, password):
        self.calls.append(("login", user, password))

    def send_message(self, msg):
        if FakeSMTP.fail:
            raise smtplib.SMTPRecipientsRefused({"x@example.org": (550, b"no")})
        self.calls.append(("send", msg))


@pytest.fixture
def fake_smtp(monkeypatch):
    """Replace smtplib.SMTP and SMTP_SSL with FakeSMTP."""
    FakeSMTP.instances, FakeSMTP.fail = [], False
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(smtplib, "SMTP_SSL", FakeSMTP)
    return FakeSMTP


def _verifying(context) -> bool:
    return context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_email_starttls_with_verified_context(fake_smtp, monkeypatch):
    """STARTTLS on 587 with a verifying TLS context, login from the env, then the message."""
    monkeypatch.setenv("SMTP_PW", "s3cret")
    settings = EmailSettings(
        name="m",
        host="smtp.example.org",
        sender="monitor@example.org",
        to=["desk@example.org"],
        username="monitor",
        password_env="SMTP_PW",
    )
    EmailSink(settings).deliver(make_alert(), CTX)
    (smtp,) = fake_smtp.instances
    assert smtp.port == 587
    kinds = [c[0] for c in smtp.calls]
    assert kinds == ["starttls", "login", "send", "quit"]
    assert _verifying(smtp.calls[0][1])
    msg = smtp.calls[2][1]
    assert msg["Subject"] == "[news-monitor] HIGH: Troop or convoy movement"
    assert "“Convoy”" in msg.get_content()


def test_email_ssl_and_failure(fake_smtp):
    """security: ssl connects on 465 with a verifying context; a refused send is a SinkError."""
    settings = EmailSettings(
        name="m",
        host="smtp.example.org",
        sender="a@example.org",
        to="b@example.org",
        security="ssl",
    )
    EmailSink(settings).deliver(make_alert(), CTX)
    assert fake_smtp.instances[0].port == 465 and _verifying(fake_smtp.instances[0].context)
    fake_smtp.fail = True
    with pytest.raises(SinkError, match=r"sending mail via smtp\.example\.org failed"):
        EmailSink(settings).deliver(make_alert(), CTX)


def write(tmp_path, text: str):
    """Write a sinks file and return its path."""
    path = tmp_path / "sinks.yaml"
    path.write_text(text)
    return path


def test_load_sinks_builds_every_type(tmp_path):
    """A valid file gives sinks of the configured types, names and settings."""
    path = write(
        tmp_path,
        f"""
sinks:
  - name: screen
    type: console
  - name: archive
    type: jsonl
    path: {tmp_path}/a.jsonl
    min_level: high
  - name: ops
    type: webhook
    url: https://hooks.example.org/x
    format: slack
    retries: 5
  - name: desk
    type: email
    host: smtp.example.org
    sender: monitor@example.org
    to: [desk@example.org]
""",
    )
    sinks = load_sinks(path)
    assert [(s.name, s.type_name) for s in sinks] == [
        ("screen", "console"),
        ("archive", "jsonl"),
        ("ops", "webhook"),
        ("desk", "email"),
    ]
    assert sinks[1].settings.min_level == "high" and sinks[2].settings.retries == 5
    assert not sinks[1].settings.wants(make_alert(level="medium"))


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("sinks:\n  - name: a\n    type: slak\n", ":3:11", "did you mean 'slack'|expected one of"),
        (
            "sinks:\n  - name: a\n    type: webhook\n    ulr: http://x\n",
            ":4:10",
            "did you mean 'url'",
        ),
        ("sinks:\n  - name: a\n    type: webhook\n", ":2:5", "needs 'url'"),
        (
            "sinks:\n  - name: a\n    type: webhook\n    url: ftp://x\n",
            ":4:10",
            "http:// or https://",
        ),
        (
            "sinks:\n  - name: a\n    type: console\n  - name: a\n    type: console\n",
            ":4:11",
            "duplicate",
        ),
        ("sinks: [\n", ":2:1", "not valid YAML"),
        ("sinks:\n  - type: console\n", ":2:5", "needs a 'name'"),
        (
            "sinks:\n  - name: a\n    type: jsonl\n    path: x\n    min_level: severe\n",
            ":5:16",
            "level",
        ),
        ("sink:\n  - name: a\n", ":1:1", "top-level key 'sink'"),
    ],
)
def test_load_sinks_errors_point_at_the_line(tmp_path, text, where, message):
    """Each mistake is a ConfigError with file:line:col and a message saying what to fix."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_sinks(path)
    assert str(info.value).startswith(f"{path}{where}:"), str(info.value)
    assert any(m in str(info.value) for m in message.split("|")), str(info.value)


def test_apprise_missing_is_a_clear_config_error(tmp_path, monkeypatch):
    """Without the optional apprise package, loading an apprise sink says how to install it."""
    monkeypatch.setattr("monitor.alerts._email._import_apprise", lambda: None)
    path = write(tmp_path, "sinks:\n  - name: chat\n    type: apprise\n    urls: [tgram://x]\n")
    with pytest.raises(
        ConfigError, match=r"sinks\.yaml:2:5: .*pip install 'news-monitor\[apprise\]'"
    ):
        load_sinks(path)


class FakeApprise:
    """Stands in for apprise.Apprise: accepts URLs, records notifications."""

    def __init__(self):
        self.urls, self.sent, self.ok = [], [], True

    def add(self, url):
        self.urls.append(url)
        return url.startswith("tgram://")

    def notify(self, title, body):
        self.sent.append((title, body))
        return self.ok


def test_apprise_sink_notifies_and_reports_failure(monkeypatch):
    """The apprise sink passes title and body to Apprise; a failed notify is a SinkError."""
    from types import SimpleNamespace

    from monitor.alerts import AppriseSettings, AppriseSink

    fake = FakeApprise()
    monkeypatch.setattr(
        "monitor.alerts._email._import_apprise", lambda: SimpleNamespace(Apprise=lambda: fake)
    )
    sink = AppriseSink(AppriseSettings(name="chat", urls=["tgram://bot/chat"]))
    sink.deliver(make_alert(), CTX)
    assert fake.sent[0][0] == "HIGH: Troop or convoy movement"
    fake.ok = False
    with pytest.raises(SinkError, match="could not notify"):
        sink.deliver(make_alert(), CTX)
    with pytest.raises(SinkError, match="does not understand"):
        AppriseSink(AppriseSettings(name="chat", urls=["nope://x"]))
