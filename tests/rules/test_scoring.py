"""``monitor rules eval`` and `evaluate_corpus`: scoring a pack against a labelled corpus."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from monitor.cli import cli, main
from monitor.errors import ConfigError
from monitor.rules import ALL_LANGS, evaluate_corpus, label_rules, read_corpus

from .builders import rule, rules

PACK = (
    rule(
        "tanf: {text|expand|near=8: ['%al_tanf%', '%attack_terms%']}\ncondition: tanf",
        "tanf-attack",
        "labels: {detects: al_tanf_attack}\n",
    )
    + "---\n"
    + rule("d: {text: [denied, denies]}\ncondition: d", "denial")
)

CORPUS = [
    # al_tanf_attack: two found (en, ar), one missed (en), one false alarm (en)
    {
        "id": "a1",
        "lang": "en",
        "summary": "Drones attacked the At Tanf garrison.",
        "labels": ["al_tanf_attack"],
    },
    {
        "id": "a2",
        "lang": "ar",
        "summary": "Drones attacked the التنف base.",
        "labels": ["al_tanf_attack"],
    },
    {
        "id": "a3",
        "lang": "en",
        "summary": "Militants shelled the garrison in the desert.",
        "labels": ["al_tanf_attack"],
    },
    {
        "id": "n1",
        "lang": "en",
        "summary": "A drone attack hit a base near al-Tanf last year.",
        "labels": [],
    },
    # uncertain: left out of al_tanf_attack's score whatever the rule does
    {
        "id": "u1",
        "lang": "en",
        "summary": "Rocket attack near al-Tanf, claims say.",
        "labels": [],
        "uncertain_labels": ["al_tanf_attack"],
    },
    # the label the `denial` rule carries as its id
    {"id": "d1", "lang": "en", "title": "Ministry denies report", "labels": ["denial"]},
    {"id": "d2", "lang": "ar", "title": "Quiet day", "labels": ["denial"]},
]


def corpus_file(tmp_path, records=CORPUS):
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


@pytest.fixture
def pack(tmp_path):
    return rules(tmp_path / "rules", PACK)


def test_counts_per_rule_and_language(pack, tmp_path):
    """tp, fp, fn per (label, rule) in each language and over all items."""
    report = evaluate_corpus(pack, read_corpus(corpus_file(tmp_path)))
    assert report.items == {ALL_LANGS: 7, "en": 5, "ar": 2}
    tanf = report.score("al_tanf_attack", "tanf-attack")
    assert (tanf.tp, tanf.fp, tanf.fn, tanf.skipped) == (2, 1, 1, 1)
    assert tanf.precision == pytest.approx(2 / 3)
    assert tanf.recall == pytest.approx(2 / 3)
    assert tanf.f1 == pytest.approx(2 / 3)
    en = report.score("al_tanf_attack", "tanf-attack", "en")
    assert (en.tp, en.fp, en.fn) == (1, 1, 1)
    ar = report.score("al_tanf_attack", "tanf-attack", "ar")
    assert (ar.tp, ar.fp, ar.fn, ar.precision, ar.f1) == (1, 0, 0, 1.0, 1.0)
    denial = report.score("denial", "denial")
    assert (denial.tp, denial.fp, denial.fn) == (1, 0, 1)


def test_mapping_by_labels_by_id_and_explicit(pack):
    """A label maps to a rule by `labels:` value or id; an explicit map replaces both."""
    assert label_rules(pack, ["al_tanf_attack", "denial", "nothing"]) == {
        "al_tanf_attack": ("tanf-attack",),
        "denial": ("denial",),
    }
    assert label_rules(pack, ["al_tanf_attack"], {"al_tanf_attack": ["denial"]}) == {
        "al_tanf_attack": ("denial",)
    }
    with pytest.raises(ConfigError, match="no detection rule 'nope'"):
        label_rules(pack, [], {"x": ["nope"]})


def test_label_no_item_carries_is_scored_when_asked(pack, tmp_path):
    """A general stream where no item is labelled: every firing is a false alarm."""
    path = corpus_file(tmp_path, [{"id": "x", "summary": "The ministry denied it."}])
    quiet = evaluate_corpus(pack, read_corpus(path))
    assert quiet.mapping == {} and quiet.unmapped_fires == {"denial": 1, "tanf-attack": 0}
    asked = evaluate_corpus(pack, read_corpus(path), labels=["denial"])
    score = asked.score("denial", "denial")
    assert (score.tp, score.fp, score.fn, score.precision, score.f1) == (0, 1, 0, 0.0, 0.0)


def test_show_errors_explains_each_miss_and_false_alarm(pack, tmp_path):
    report = evaluate_corpus(pack, read_corpus(corpus_file(tmp_path)), show_errors=True)
    kinds = sorted((e.kind, e.item.id) for e in report.errors)
    assert kinds == [("fn", "a3"), ("fn", "d2"), ("fp", "n1")]
    false_alarm = next(e for e in report.errors if e.kind == "fp")
    assert false_alarm.explanation[0] == "rule tanf-attack: MATCH"
    assert any("'attack'" in line for line in false_alarm.explanation)


def test_bad_corpus_lines_say_where(tmp_path, pack):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"labels": []}\n\nnot json\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.jsonl:3: not a JSON line"):
        evaluate_corpus(pack, read_corpus(path))
    path.write_text('{"labels": "x"}\n[1]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: expected a JSON object"):
        list(read_corpus(path))
    path.write_text('{"labels": [1]}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="'labels' must be a list of label names"):
        list(read_corpus(path))


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_cli_table_json_and_min_f1(pack, tmp_path):
    folder, corpus = str(tmp_path / "rules"), str(corpus_file(tmp_path))
    result = run("rules", "eval", corpus, "--rules", folder)
    assert result.exit_code == 0, result.output
    assert "7 item(s) (ar 2, en 5)" in result.output and "tanf-attack" in result.output
    data = json.loads(run("rules", "eval", corpus, "--rules", folder, "--json").output)
    row = next(s for s in data["scores"] if s["rule"] == "tanf-attack" and s["lang"] == ALL_LANGS)
    assert (row["tp"], row["fp"], row["fn"], row["f1"]) == (2, 1, 1, 0.6667)
    # tanf-attack: 0.67 overall, 0.5 in English, 1.0 in Arabic; denial: 1.0 en, 0.0 ar
    assert run("rules", "eval", corpus, "--rules", folder, "--min-f1", "en=0.5").exit_code == 0
    assert run("rules", "eval", corpus, "--rules", folder, "--min-f1", "0.6").exit_code == 1
    low = run("rules", "eval", corpus, "--rules", folder, "--min-f1", "0.9")
    assert low.exit_code == 1 and "below --min-f1: al_tanf_attack / tanf-attack [en]" in low.output
    only_ar = run(
        "rules",
        "eval",
        corpus,
        "--rules",
        folder,
        "--lang",
        "ar",
        "--min-f1",
        "ar=0.9",
        "--map",
        "denial=tanf-attack",
        "--map",
        "al_tanf_attack=tanf-attack",
    )
    assert only_ar.exit_code == 1  # d2 is a denial the mapped rule misses
    errors = run("rules", "eval", corpus, "--rules", folder, "--show-errors")
    assert "FALSE ALARM al_tanf_attack / tanf-attack: n1 [en]" in errors.output
    assert "| rule tanf-attack: MATCH" in errors.output


def test_cli_every_rule_scores_each_rule_under_its_id(pack, tmp_path):
    folder = str(tmp_path / "rules")
    path = corpus_file(tmp_path, [{"id": "x", "summary": "The ministry denied it."}])
    data = json.loads(
        run("rules", "eval", str(path), "--rules", folder, "--every-rule", "--json").output
    )
    scored = {(s["label"], s["rule"], s["fp"]) for s in data["scores"] if s["lang"] == "all"}
    assert scored == {("denial", "denial", 1), ("tanf-attack", "tanf-attack", 0)}


def test_cli_bad_input_exit_codes(pack, tmp_path, capsys):
    folder = str(tmp_path / "rules")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    result = run("rules", "eval", str(bad), "--rules", folder)
    assert result.exit_code == 4 and "bad.jsonl:1: not a JSON line" in result.output
    # A missing corpus is refused while the command line is parsed; run `main` as a shell does
    # (CliRunner reports errors raised there as exit 1).
    with pytest.raises(SystemExit) as missing:
        main(["rules", "eval", str(tmp_path / "none.jsonl"), "--rules", folder])
    assert missing.value.code == 4 and "none.jsonl: corpus not found" in capsys.readouterr().err
    assert run("rules", "eval", str(bad), "--rules", folder, "--map", "x").exit_code == 2
    assert run("rules", "eval", str(bad), "--rules", folder, "--min-f1", "2").exit_code == 2
    unknown = run("rules", "eval", str(corpus_file(tmp_path)), "--rules", folder, "--map", "a=nope")
    assert unknown.exit_code == 4 and "no detection rule 'nope'" in unknown.output
