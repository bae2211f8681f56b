"""`monitor config check` on broken files (each fault at its location) and `config show`."""

from __future__ import annotations

import pytest

from tests.config.conftest import run, run_json

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)

#: (file text, extra files, expected location, fragment of the message)
BROKEN = {
    "unknown key": ("wacth: {workers: 2}\n", {}, "monitor.yaml:1:1", "did you mean 'watch'?"),
    "unknown option": ("watch:\n  worker: 2\n", {}, "monitor.yaml:2:3", "did you mean 'workers'"),
    "wrong type": ("watch: {workers: many}\n", {}, "monitor.yaml:1:18", "not a valid integer"),
    "out of range": ("watch: {workers: 99}\n", {}, "monitor.yaml:1:18", "1<=x<=32"),
    "bad duration": (
        "watch: {checkpoint_every: soonish}\n",
        {},
        "monitor.yaml:1:27",
        "expected a duration",
    ),
    "list for one value": ("db: [a.db, b.db]\n", {}, "monitor.yaml:1:5", "one value, not a list"),
    "flag not boolean": ("watch: {once: often}\n", {}, "monitor.yaml:1:15", "true or false"),
    "bad log level": ("log: {level: loud}\n", {}, "monitor.yaml:1:14", "log.level is one of"),
    "not a mapping": ("- db: x\n", {}, "monitor.yaml:1:1", "must be a mapping"),
    "section not a mapping": ("watch: 4\n", {}, "monitor.yaml:1:8", "write a mapping"),
    "invalid YAML": ("watch: {workers: 2\n", {}, "monitor.yaml:2:1", "not valid YAML"),
    "duplicate key": ("db: a.db\ndb: b.db\n", {}, "monitor.yaml:2:1", "appears twice"),
    "alias bomb": (BOMB, {}, "monitor.yaml:", "alias bomb"),
    "missing feed list": (
        "feeds: nowhere.yaml\n",
        {},
        "nowhere.yaml",
        "feed list not found (named at monitor.yaml:1:8)",
    ),
    "feed list with its own error": (
        "watch: {feeds: lists/f.yaml}\n",
        {"lists/f.yaml": "feeds:\n  - id: x\n    url: ftp://example.org/feed\n"},
        "lists/f.yaml:3:10",
        "only http:// and https://",
    ),
    "rule folder with an error": (
        "rules: [myrules]\n",
        {
            "myrules/r.yaml": "id: r1\ntitle: t\nlevel: high\ndetection:\n  a: {text: [x]}\n"
            "  condition: a and b\n"
        },
        "myrules/r.yaml:",
        "'b'",
    ),
    "missing rule folder": ("rules: [gone]\n", {}, "gone", "no such file or folder"),
    "sinks file with an error": (
        "sinks: s.yaml\n",
        {"s.yaml": "sinks:\n  - {name: x, type: webhok}\n"},
        "s.yaml:2:21",
        "did you mean 'webhook'?",
    ),
    "sink secret variable not set": (
        "sinks: s.yaml\n",
        {
            "s.yaml": "sinks:\n  - {name: x, type: webhook, url: 'https://h.example/',"
            " secret_env: MONITOR_TEST_UNSET_SECRET}\n"
        },
        "s.yaml",
        "MONITOR_TEST_UNSET_SECRET is not set",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_check_reports_each_fault_at_its_location(tmp_path, case):
    """Each broken configuration: exit 4 and an error at file:line:column saying what is wrong."""
    text, files, where, fragment = BROKEN[case]
    (tmp_path / "monitor.yaml").write_text(text, encoding="utf-8")
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    code, report = run_json("config", "check", "monitor.yaml", "--json", cwd=tmp_path)
    assert code == 4 and not report["ok"]
    assert any(
        (e["location"] or "").startswith(where) and fragment in e["message"]
        for e in report["errors"]
    ), report["errors"]
    plain = run("config", "check", "monitor.yaml", cwd=tmp_path)
    assert plain.returncode == 4 and "error" in plain.stdout and "Traceback" not in plain.stderr


def test_check_ok_and_inline_secret_warnings(tmp_path):
    """A good file passes (exit 0); inline secrets in it or its sinks file are warnings."""
    (tmp_path / "s.yaml").write_text(
        "sinks:\n  - {name: mail, type: email, host: smtp.example, sender: a@example,"
        " to: [b@example], username: u, password: hunter2}\n"
    )
    (tmp_path / "monitor.yaml").write_text(
        "db: postgresql://monitor:pw@db.example/news\nsinks: s.yaml\nlog: {format: json}\n"
    )
    code, report = run_json("config", "check", "--json", cwd=tmp_path)
    assert code == 0 and report["ok"], report
    messages = [w["message"] for w in report["warnings"]]
    assert any("database password is written" in m for m in messages)
    assert any("its password is written in the sinks file" in m for m in messages)
    assert report["warnings"][0]["location"] == "monitor.yaml:1:5"


def test_check_reports_bad_environment_values(tmp_path):
    """An invalid MONITOR_* value is an error naming the variable."""
    (tmp_path / "monitor.yaml").write_text("db: x.db\n")
    env = {"MONITOR_WATCH_WORKERS": "lots"}
    code, report = run_json("config", "check", "--json", cwd=tmp_path, env=env)
    assert code == 4
    assert report["errors"][0]["location"] == "$MONITOR_WATCH_WORKERS"


def test_check_without_any_file_says_how_to_give_one(tmp_path):
    """No FILE, no --config, no MONITOR_CONFIG, no ./monitor.yaml: exit 4 and how to fix it."""
    result = run("config", "check", cwd=tmp_path)
    assert result.returncode == 4
    assert "no configuration file" in result.stderr


def test_show_masks_secrets_and_names_sources(tmp_path):
    """show: values with their sources; the webhook key, SMTP password and db password masked."""
    (tmp_path / "pw").write_text("hunter2\n")
    (tmp_path / "s.yaml").write_text(
        "sinks:\n"
        "  - {name: hook, type: webhook, url: 'https://hooks.example/T1/B2/tok3n',"
        " secret_env: HOOK_KEY}\n"
        "  - {name: mail, type: email, host: smtp.example, sender: a@example, to: [b@example],"
        " username: u, password_file: pw}\n"
        "  - {name: inline, type: email, host: smtp.example, sender: a@example, to: [b@example],"
        " username: u, password: hunter2}\n"
    )
    (tmp_path / "monitor.yaml").write_text(
        "db: postgresql://monitor:dbpass@db.example/news\nwatch: {workers: 3}\nsinks: s.yaml\n"
    )
    env = {"HOOK_KEY": "whsec_c2VjcmV0", "MONITOR_LOG_LEVEL": "info"}
    code, shown = run_json("config", "show", "--json", cwd=tmp_path, env=env)
    assert code == 0
    text = str(shown)
    for secret in ("whsec_c2VjcmV0", "hunter2", "dbpass", "tok3n"):
        assert secret not in text
    settings = {s["key"]: s for s in shown["settings"]}
    assert settings["db"]["value"] == "postgresql://monitor:****@db.example/news"
    assert settings["log.level"] == {
        "key": "log.level", "value": "info", "source": "env", "where": "MONITOR_LOG_LEVEL"
    }  # fmt: skip
    assert settings["watch.workers"]["source"] == "file"
    assert settings["watch.workers"]["where"] == "monitor.yaml:2:18"
    assert settings["watch.once"] == {
        "key": "watch.once", "value": False, "source": "default", "where": ""
    }  # fmt: skip
    sinks = {s["name"]: s for s in shown["sinks"]}
    assert sinks["hook"]["secret_env"] == "**** (env HOOK_KEY, set)"
    assert sinks["hook"]["url"] == "https://hooks.example/…"
    assert sinks["mail"]["password_file"].startswith("**** (file ")
    assert sinks["inline"]["password"] == "**** (inline)"
    table = run("config", "show", cwd=tmp_path, env=env)
    assert table.returncode == 0 and "monitor.yaml:2:18" in table.stdout
    assert "hunter2" not in table.stdout and "dbpass" not in table.stdout
