"""`monitor replay --jobs N`: projections rebuilt side by side in processes end in exactly the
state a sequential rebuild gives."""

from __future__ import annotations

import pytest

from monitor.alerting import AlertEvaluator
from monitor.app import Monitor
from monitor.log import open_log
from monitor.projections import ProjectionRunner, Stories, builtin_projections
from monitor.rules import load_rules
from tests.alerts.conftest import RULEPACK
from tests.alerts.test_evaluator import STORY


def state(log, names) -> dict:
    return {name: list(log.projection_scan(name)) for name in names}


def test_rebuild_in_two_processes_equals_the_sequential_rebuild(tmp_path) -> None:
    db = tmp_path / "m.db"
    with open_log(db) as log:
        log.append_events(STORY)
        AlertEvaluator(log, load_rules(RULEPACK), clock=lambda: STORY[0].received).run()
    projections = [*builtin_projections(), Stories()]
    names = [p.name for p in projections]
    with open_log(db) as log:
        ProjectionRunner(log, projections).rebuild()
        sequential = state(log, names)
    with Monitor.open(db) as monitor:
        monitor.projections = ProjectionRunner(monitor.log, projections)
        monitor.replay(jobs=2)
        parallel = state(monitor.log, names)
        assert all(s.lag == 0 for s in monitor.projections.status())
    assert parallel == sequential
    assert any(rows for rows in sequential.values())


def test_cli_replay_jobs(tmp_path, capsys) -> None:
    from monitor.cli import main

    db = str(tmp_path / "m.db")
    with open_log(db) as log:
        log.append_events(STORY)
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", db, "replay", "--jobs", "2"])
    assert exit_info.value.code == 0
    assert "item_versions" in capsys.readouterr().out
