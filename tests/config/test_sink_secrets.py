"""Sink secrets from an environment variable or a file, never only inline."""

from __future__ import annotations

import pytest

from monitor.alerts import load_sinks
from monitor.errors import ConfigError, SinkError


def write(tmp_path, text):
    """A sinks file holding `text`."""
    path = tmp_path / "sinks.yaml"
    path.write_text(text, encoding="utf-8")
    return path


HOOK = "sinks:\n  - {name: ops, type: webhook, url: 'https://hooks.example/x', %s}\n"
MAIL = (
    "sinks:\n  - {name: mail, type: email, host: smtp.example, sender: a@example,"
    " to: [b@example], username: u, %s}\n"
)


def test_webhook_secret_file_is_relative_to_the_sinks_file(tmp_path):
    """secret_file is read relative to the sinks file, one trailing newline dropped."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "hook").write_text("s3cret\n")
    (sink,) = load_sinks(write(tmp_path, HOOK % "secret_file: secrets/hook"))
    assert sink.settings.key() == b"s3cret"


def test_webhook_secret_env(tmp_path, monkeypatch):
    """secret_env names a variable read at delivery; an unset one is a SinkError naming it."""
    (sink,) = load_sinks(write(tmp_path, HOOK % "secret_env: HOOK_KEY"))
    monkeypatch.delenv("HOOK_KEY", raising=False)
    with pytest.raises(SinkError, match="HOOK_KEY is not set"):
        sink.settings.key()
    monkeypatch.setenv("HOOK_KEY", "k")
    assert sink.settings.key() == b"k"


def test_email_password_file_and_missing_file(tmp_path):
    """password_file works; a missing file names the file, never a secret."""
    (tmp_path / "pw").write_text("hunter2")
    (sink,) = load_sinks(write(tmp_path, MAIL % "password_file: pw"))
    assert sink._password() == "hunter2"
    (sink,) = load_sinks(write(tmp_path, MAIL % "password_file: nope"))
    with pytest.raises(SinkError, match=r"password file .*nope does not exist"):
        sink._password()


def test_two_sources_for_one_secret_are_refused(tmp_path):
    """Giving both secret and secret_env is a ConfigError with the entry's location."""
    with pytest.raises(ConfigError, match="give only one of 'secret', 'secret_env'") as exc:
        load_sinks(write(tmp_path, HOOK % "secret: x, secret_env: Y"))
    assert exc.value.source.line == 2
