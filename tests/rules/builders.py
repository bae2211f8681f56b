"""Small builders for rule tests: write YAML to a folder and load or check it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from monitor.rules import CheckReport, RuleSet, check_rules, load_rules

FILES = Path(__file__).parent / "files"

LEXICONS = """\
lexicon: al_tanf
kind: place
canonical: place:al-tanf
terms: [al-Tanf, At Tanf, Tanf garrison, التنف]
---
lexicon: abu_kamal
kind: place
canonical: place:abu-kamal
terms: [Abu Kamal, Al-Bukamal, Albu Kamal]
---
lexicon: irgc
kind: actor
canonical: actor:irgc
terms: [IRGC, Revolutionary Guards]
---
lexicon: isis
kind: actor
canonical: actor:isis
terms: [ISIS, Daesh]
cased: [IS]
---
lexicon: attack_terms
kind: term
terms: [attack, attacked, drone*, rocket*, strike, struck]
"""


def write(folder: Path, text: str, name: str = "rules.yaml") -> Path:
    """Write dedented `text` as `folder/name` and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def rules(folder: Path, text: str, *, lexicons: bool = True) -> RuleSet:
    """Load a rule set made of `text` (plus the standard test lexicons)."""
    write(folder, text)
    if lexicons:
        write(folder, LEXICONS, "lexicons.yaml")
    return load_rules(folder)


def check(folder: Path, text: str, *, lexicons: bool = True) -> CheckReport:
    """Check a rule set made of `text` (plus the standard test lexicons)."""
    write(folder, text)
    if lexicons:
        write(folder, LEXICONS, "lexicons.yaml")
    return check_rules(folder)


def rule(detection: str, rule_id: str = "r", extra: str = "") -> str:
    """A minimal rule document around an indented `detection` block."""
    body = textwrap.indent(textwrap.dedent(detection).strip("\n"), "  ")
    return f"id: {rule_id}\ntitle: Test rule\nlevel: medium\n{extra}detection:\n{body}\n"


def matched(ruleset: RuleSet, **item: object) -> list[str]:
    """Ids of the rules that match the item given as keyword fields."""
    return [m.rule_id for m in ruleset.match(item)]
