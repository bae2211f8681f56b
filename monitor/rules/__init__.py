"""The rule engine: YAML rule files in, matches with evidence out.

Load rule folders with `load_rules` (all-or-nothing; `check_rules` reports every fault without
raising; ``"default"`` names the pack installed with monitor, see `default_pack_path`), then
call `RuleSet.match(item)` for each item. The rule language is described in the README
("Rules"); the hot path in ``_compile`` and ``_match``. This package is the language, its
compiler and its matcher; evaluation over time (alerts, correlation, throttling, backtests)
belongs to `monitor.alerting`, above it.
"""

from ..errors import RuleError, RuleSetError
from ._aggregations import AGGREGATION_TYPES, SPIKE_TYPES, AggregationRule
from ._arabic import term_variants
from ._build import did_you_mean, parse_duration
from ._counts import Bounds
from ._explain import Explanation, FieldExplanation, SelectionExplanation
from ._load import CheckReport, check_rules, load_rules, rule_files
from ._match import MAX_FIELD_CHARS, Match, item_fields
from ._model import (
    FIELDS,
    KEYWORD_FIELDS,
    LEVELS,
    TEXT_FIELDS,
    CorrelationRule,
    CorrelationTest,
    FieldMatch,
    Lexicon,
    Rule,
    RuleTestCase,
    Selection,
    Slot,
    Term,
)
from ._modifiers import MODIFIERS
from ._normalize import normalize, normalize_tokens
from ._render import check_template, render_annotations
from ._render import render as render_template
from ._ruleset import RuleSet
from ._scoring import (
    ALL_LANGS,
    CorpusItem,
    EvalError,
    EvalReport,
    Score,
    evaluate_corpus,
    label_rules,
    read_corpus,
)
from ._sources import (
    DEFAULT_PACK,
    RuleSource,
    RuleSources,
    default_pack_path,
    resolve_sources,
)
from ._stories import BUCKET_CAP, StoryIndex, StoryUpdate
from ._testing import CorrelationRunner, TestReport, TestResult, run_rule_tests

__all__ = [
    "AGGREGATION_TYPES",
    "ALL_LANGS",
    "BUCKET_CAP",
    "DEFAULT_PACK",
    "FIELDS",
    "KEYWORD_FIELDS",
    "LEVELS",
    "MAX_FIELD_CHARS",
    "MODIFIERS",
    "SPIKE_TYPES",
    "TEXT_FIELDS",
    "AggregationRule",
    "Bounds",
    "CheckReport",
    "CorpusItem",
    "CorrelationRule",
    "CorrelationRunner",
    "CorrelationTest",
    "EvalError",
    "EvalReport",
    "Explanation",
    "FieldExplanation",
    "FieldMatch",
    "Lexicon",
    "Match",
    "Rule",
    "RuleError",
    "RuleSet",
    "RuleSetError",
    "RuleSource",
    "RuleSources",
    "RuleTestCase",
    "Score",
    "Selection",
    "SelectionExplanation",
    "Slot",
    "StoryIndex",
    "StoryUpdate",
    "Term",
    "TestReport",
    "TestResult",
    "check_rules",
    "check_template",
    "default_pack_path",
    "did_you_mean",
    "evaluate_corpus",
    "item_fields",
    "label_rules",
    "load_rules",
    "normalize",
    "normalize_tokens",
    "parse_duration",
    "read_corpus",
    "render_annotations",
    "render_template",
    "resolve_sources",
    "rule_files",
    "run_rule_tests",
    "term_variants",
]
