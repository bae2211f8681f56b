"""Silences: matchers, time bounds, unsilence, delivery that skips muted alerts while the
listing keeps them (marked), the same answer on replay and after a restart, and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from monitor import Monitor
from monitor.alerts import CallbackSink, Delivery
from monitor.cli import cli
from monitor.errors import ConfigError
from monitor.events import (
    AlertRaised,
    Matcher,
    SilenceCreated,
    SilenceExpired,
    parse_matcher,
    silence_applies,
)
from monitor.log import MemoryLog, open_log
from monitor.projections import ProjectionRunner, Silences

NOW = datetime.now(UTC)


def alert(n: int, *, rule: str = "movement", place: str = "al-tanf") -> AlertRaised:
    """An alert of `rule` about `place` (and Abu Kamal), fed by reuters, team label ops."""
    return AlertRaised(
        alert_id=f"a{n:03d}",
        rule_id=rule,
        level="high",
        title="Convoy",
        item_ids=(f"item{n}",),
        entities=("place:abu-kamal", f"place:{place}"),
        group_key="place:abu-kamal",
        event_time=datetime(2026, 3, 1, 9, tzinfo=UTC),
        labels={"team": "ops"},
        facets={"feed": "reuters"},
    )


def silence(sid: str = "s1", *matchers: str, start=-1.0, end=1.0) -> SilenceCreated:
    """A silence from `start` to `end` hours around now."""
    return SilenceCreated(
        silence_id=sid,
        matchers=[parse_matcher(m) for m in matchers or ("rule=movement",)],
        starts=NOW + timedelta(hours=start),
        ends=NOW + timedelta(hours=end),
        created_at=NOW,
        created_by="ana",
        comment="known convoy",
    )


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("rule=movement", True),
        ("rule=shelling", False),
        ("rule!=shelling", True),
        ("rule!=movement", False),
        ("place=al-tanf", True),
        ("place=place:al-tanf", True),
        ("place!=al-tanf", False),
        ("place!=palmyra", True),
        ("place=~al-.*", True),
        ("place=~al", False),
        ("place!~abu.*", False),
        ("place!~pal.*", True),
        ("feed=reuters", True),
        ("label.team=ops", True),
        ("label.team=~dev|qa", False),
        ("story=", True),
        ("level=~high|critical", True),
    ],
)
def test_matcher_operators(text, hit):
    """Each operator matches (or not) as Alertmanager's: = and =~ on any value, != and !~ on
    none, regexes anchored, a missing field is the empty string."""
    assert parse_matcher(text).matches(alert(1)) is hit


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: parse_matcher("plac=al-tanf"), "unknown match key"),
        (lambda: parse_matcher("rule=~(move"), "not a valid regular expression"),
        (lambda: parse_matcher("no operator"), "is not a matcher"),
        (lambda: Matcher(name="rule", op="==", value="x"), "unknown match operator"),
        (lambda: silence("s", "rule=x", start=1, end=0), "before it starts"),
        (
            lambda: SilenceCreated(
                silence_id="s", matchers=[], starts=NOW, ends=NOW, created_at=NOW
            ),
            "at least one matcher",
        ),
    ],
)
def test_bad_silences_say_what_to_fix(make, words):
    """An unknown key, a bad regex, a malformed matcher, an end before the start or no matcher
    is a ConfigError that says so."""
    with pytest.raises(ConfigError, match=words):
        make()


def test_time_bounds_include_the_start_and_exclude_the_end():
    """A silence mutes alerts raised from its start up to, not including, its end."""
    s = silence()
    assert silence_applies(s, alert(1), s.starts)
    assert silence_applies(s, alert(1), s.ends - timedelta(microseconds=1))
    assert not silence_applies(s, alert(1), s.ends)
    assert not silence_applies(s, alert(1), s.starts - timedelta(seconds=1))


def deliver_all(log, name="cb") -> tuple[list[str], Delivery]:
    """Run a fresh delivery to a callback sink named `name`; the alert ids it received."""
    got: list[str] = []
    delivery = Delivery(
        log, [CallbackSink(lambda a: got.append(a.alert_id), name=name)], clock=lambda: NOW
    )
    delivery.run()
    return got, delivery


def muted(log) -> dict[str, str]:
    """Alert id -> silence id, from the Silences projection."""
    ProjectionRunner(log, [Silences()]).run()
    return {a: s for a in (f"a{n:03d}" for n in range(20)) if (s := Silences.muting(log, a))}


def test_delivery_skips_a_silenced_alert_and_the_listing_marks_it():
    """An alert a silence matches is stored and not delivered; others are; the Silences view
    names the silence for the muted alert and counts it."""
    log = MemoryLog()
    log.append_events([silence("s1", "rule=movement", "place=al-tanf")])
    log.append_events([alert(1), alert(2, rule="shelling"), alert(3, place="palmyra")])
    got, delivery = deliver_all(log)
    assert got == ["a002", "a003"]
    assert delivery.status()[0].silenced == 1
    assert muted(log) == {"a001": "s1"}
    assert [s["silenced"] for s in Silences.all(log, now=NOW)] == [1]


def test_a_silence_made_after_an_alert_never_mutes_it():
    """Only silences before the alert in the log count, even when the sink delivers later."""
    log = MemoryLog()
    log.append_events([alert(1)])
    log.append_events([silence("s1")])
    log.append_events([alert(2)])
    got, _ = deliver_all(log)
    assert got == ["a001"]
    assert muted(log) == {"a002": "s1"}


def test_outside_its_time_range_a_silence_mutes_nothing():
    """A silence that has ended, or not yet started, lets the alerts through."""
    log = MemoryLog()
    log.append_events([silence("old", start=-3, end=-1), silence("later", start=1, end=2)])
    log.append_events([alert(1)])
    got, _ = deliver_all(log)
    assert got == ["a001"]
    assert muted(log) == {}


def test_unsilence_lets_later_alerts_through():
    """Alerts before the SilenceExpired stay muted, those after it are delivered; listing
    silences shows it expired only with include_expired."""
    log = MemoryLog()
    monitor = Monitor(log, clock=lambda: NOW)
    made = monitor.silence(rule="movement", duration="6h", comment="x", by="ana")
    log.append_events([alert(1)])
    monitor.unsilence(made.silence_id[:6], by="bo")
    log.append_events([alert(2)])
    got, _ = deliver_all(log)
    assert got == ["a002"]
    assert muted(log) == {"a001": made.silence_id}
    assert monitor.silences() == []
    (listed,) = monitor.silences(include_expired=True)
    assert listed["status"] == "expired" and listed["expired_by"] == "bo"
    with pytest.raises(ConfigError, match="already ended"):
        monitor.unsilence(made.silence_id)
    with pytest.raises(ConfigError, match="no silence"):
        monitor.unsilence("zzz")


def test_monitor_silence_checks_its_arguments():
    """No length, both a length and an end, or an end in the past are errors."""
    monitor = Monitor(MemoryLog(), clock=lambda: NOW)
    with pytest.raises(ConfigError, match="length"):
        monitor.silence(rule="r", comment="x")
    with pytest.raises(ConfigError, match="length"):
        monitor.silence(rule="r", duration="1h", until=NOW + timedelta(hours=2))
    with pytest.raises(ConfigError, match="already past"):
        monitor.silence(rule="r", until=NOW - timedelta(hours=1))
    with pytest.raises(ConfigError, match="at least one matcher"):
        monitor.silence(duration="1h")


def test_replay_and_restart_give_the_same_answer():
    """A delivery started afresh from position 0, one restarted halfway, and a rebuilt
    Silences view all agree on which alerts are muted."""
    log = MemoryLog()
    log.append_events([alert(1), silence("s1", "place=al-tanf")])
    log.append_events([alert(2), alert(3, place="palmyra")])
    log.append_events([SilenceExpired(silence_id="s1", when=NOW, by="x"), alert(4)])
    first, _ = deliver_all(log, "one")
    again, _ = deliver_all(log, "two")
    assert first == again == ["a001", "a003", "a004"]
    # Restart halfway: the checkpoint after a002's position; a new Delivery resumes there.
    got: list[str] = []
    sink = CallbackSink(lambda a: got.append(a.alert_id), name="three")
    log.set_checkpoint(Delivery.checkpoint_name(sink), 3)
    Delivery(log, [sink], clock=lambda: NOW).run()
    assert got == ["a003", "a004"]
    marks = muted(log)
    log.drop_projection(Silences.name)
    assert muted(log) == marks == {"a002": "s1"}


@pytest.fixture
def db(tmp_path):
    """A SQLite log path."""
    return str(tmp_path / "m.db")


def run(db, *args):
    """The CLI in-process."""
    return CliRunner().invoke(cli, ["--db", db, *args])


def test_cli_silence_list_unsilence_and_listing(db):
    """silence --json prints the silence; silences --json lists it; `alerts --json` marks the
    muted alert with the silence id; unsilence ends it; silences --all still shows it."""
    args = ["--rule", "movement", "--match", "place=~al-.*", "--level", "high", "--for", "6h"]
    made = run(db, "alerts", "silence", *args, "--comment", "known", "--by", "ana", "--json")
    assert made.exit_code == 0, made.output
    sid = json.loads(made.output)["silence_id"]
    with open_log(db) as log:
        log.append_events([alert(1), alert(2, rule="shelling")])
    listed = [json.loads(x) for x in run(db, "alerts", "silences", "--json").output.splitlines()]
    assert [(s["silence_id"], s["status"], s["created_by"]) for s in listed] == [
        (sid, "active", "ana")
    ]
    rows = [json.loads(x) for x in run(db, "alerts", "--json").output.splitlines()]
    assert {r["alert_id"]: r["silenced"] for r in rows} == {"a001": sid, "a002": None}
    table = run(db, "alerts")
    assert "silenced, not delivered: a001" in table.output
    assert run(db, "alerts", "unsilence", sid[:8]).exit_code == 0
    assert run(db, "alerts", "silences", "--json").output.strip() == ""
    assert sid in run(db, "alerts", "silences", "--all").output


@pytest.mark.parametrize(
    "args",
    [
        ["alerts", "silence", "--match", "plac=x", "--for", "1h", "--comment", "c"],
        ["alerts", "silence", "--match", "rule=~(", "--for", "1h", "--comment", "c"],
        ["alerts", "silence", "--rule", "r", "--until", "2020-01-01", "--comment", "c"],
        ["alerts", "unsilence", "nope"],
    ],
)
def test_cli_bad_silences_exit_4(db, args):
    """An unknown key, a bad regex, an end in the past or an unknown silence id is invalid
    input: exit 4 with one line saying why."""
    from monitor.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--db", db, *args])
    assert exc.value.code == 4


def test_cli_malformed_duration_is_a_usage_error(db, capsys):
    """`--for soon` is a malformed option value, like every other duration option: exit 2."""
    from monitor.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--db", db, "alerts", "silence", "--rule", "r", "--for", "soon", "--comment", "c"])
    assert exc.value.code == 2
    assert "soon" in capsys.readouterr().err
