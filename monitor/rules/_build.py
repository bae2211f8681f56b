"""Turn located YAML documents into model objects, collecting every fault with its location.

`Builder` never raises for content problems: it appends `RuleError`s (with file, line and
column taken from the YAML marks) to ``errors`` and warnings to ``warnings``, and returns None
for a document it could not build, so one bad rule never hides the faults of the others.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import re2

from .._durations import DURATION_FORMS
from .._durations import parse_duration as _parse_duration
from ..errors import RuleError, SourceLocation
from ._model import (
    FIELDS,
    KEYWORD_FIELDS,
    FieldMatch,
    Lexicon,
    Selection,
    Slot,
    Term,
)
from ._modifiers import MODIFIERS, FieldSpec, ModifierError, check_spec
from ._normalize import normalize_tokens
from ._render import check_template
from ._yaml import LocList, LocMap

__all__ = [
    "ITEM_KEYS",
    "Builder",
    "compile_regex",
    "did_you_mean",
    "parse_duration",
    "plain",
    "unknown_lexicon",
]

_META_KEYS = ["id", "version", "title", "level", "status", "description", "tags", "references"]
_META_KEYS += ["falsepositives", "labels", "annotations", "throttle", "tests"]
_META_KEYS += ["author", "date", "modified", "generate"]
_RULE_KEYS = [*_META_KEYS, "detection"]
_CORR_KEYS = [*_META_KEYS, "correlation"]
_CORR_BODY_KEYS = ["type", "rules", "group-by", "group_by", "timespan", "condition"]
_CORR_BODY_KEYS += ["distinct"]
_CORR_TYPES = ("event_count", "value_count", "temporal", "temporal_ordered")
_GROUP_KEYS = ("place", "actor", "source", "feed", "lang", "author", "story")
_LEXICON_KEYS = [
    "lexicon",
    "kind",
    "canonical",
    "title",
    "description",
    "terms",
    "cased",
    "verbs",
]
ITEM_KEYS = ("id", "title", "summary", "content", "author", "tags", "feed", "source", "url")
ITEM_KEYS = (*ITEM_KEYS, "lang", "published")
_LEXREF = re.compile(r"^%([A-Za-z0-9_.\-]+)%$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or a list of valid ones."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; expected one of: {', '.join(choices)}" if len(choices) <= 12 else ""


def unknown_lexicon(name: str, known: Iterable[str], shown: int = 12) -> str:
    """The message for ``%name%`` naming no lexicon: the closest name, and what exists.

    (`did_you_mean` alone lists nothing past 12 choices, and an empty list when there are no
    lexicons at all, the usual case of a folder loaded without the one defining its lexicons.)
    """
    names = sorted(set(known))
    if not names:
        return (
            f"unknown lexicon {name!r}: no lexicon is loaded; lexicons are shared across every "
            "rule source, so load the folder that defines it too (e.g. 'default', the "
            "installed pack)"
        )
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    head = f"unknown lexicon {name!r}; " + (f"did you mean '{close[0]}'? " if close else "")
    if len(names) <= shown:
        return f"{head}lexicons loaded ({len(names)}): {', '.join(names)}"
    nearest = sorted(
        names, key=lambda n: -difflib.SequenceMatcher(None, name.casefold(), n.casefold()).ratio()
    )[:shown]
    return (
        f"{head}lexicons loaded ({len(names)}), the closest first: {', '.join(nearest)}, "
        f"and {len(names) - shown} more"
    )


def parse_duration(value: Any) -> int | None:
    """Return whole seconds for a duration (``90s``, ``30m``, ``1.5h``, ``2d``, ``1w``,
    ``1h30m`` or a plain number; the grammar of `monitor._durations`), or None when `value`
    is not one (the caller reports it at the value's location)."""
    try:
        return int(_parse_duration(value))
    except ValueError:
        return None


def compile_regex(pattern: str, ignore_case: bool = False) -> Any:
    """Compile `pattern` with RE2 (linear time); raises ``re2.error`` when RE2 refuses it."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    return re2.compile(pattern, options)


def plain(value: Any) -> Any:
    """Strip location info: LocMap/LocList become dict/list (for hashing and ``source``)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class Builder:
    """Builds lexicons, rules and correlation rules; collects errors and warnings."""

    def __init__(self) -> None:
        self.errors: list[RuleError] = []
        self.warnings: list[RuleError] = []
        self.lexicons: dict[str, Lexicon] = {}

    # --- helpers ---------------------------------------------------------------------------

    def error(self, message: str, loc: SourceLocation | None) -> None:
        self.errors.append(RuleError(message, source=loc))

    def warn(self, message: str, loc: SourceLocation | None) -> None:
        self.warnings.append(RuleError(message, source=loc))

    def check_keys(self, doc: LocMap, allowed: list[str], what: str) -> None:
        for key in doc:
            if key not in allowed:
                self.error(
                    f"unknown {what} field {key!r}{did_you_mean(str(key), allowed)}",
                    doc.key_loc(key),
                )

    def text(self, doc: LocMap, key: str, *, required: bool = False, default: str = "") -> str:
        value = doc.get(key)
        if value is None:
            if required:
                self.error(f"'{key}' is required", doc.loc)
            return default
        if isinstance(value, LocMap | LocList):
            self.error(
                f"'{key}' must be text, not a {type(value).__mro__[1].__name__}", doc.value_loc(key)
            )
            return default
        return str(value)

    def text_list(self, doc: LocMap, key: str) -> tuple[str, ...]:
        value = doc.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or any(isinstance(v, dict | list) for v in value):
            self.error(f"'{key}' must be a list of texts", doc.value_loc(key))
            return ()
        return tuple(str(v) for v in value)

    def text_map(self, doc: LocMap, key: str) -> dict[str, str]:
        value = doc.get(key)
        if value is None:
            return {}
        if not isinstance(value, LocMap) or any(isinstance(v, dict | list) for v in value.values()):
            self.error(f"'{key}' must be a mapping of names to texts", doc.value_loc(key))
            return {}
        return {str(k): "" if v is None else str(v) for k, v in value.items()}

    def choice(self, doc: LocMap, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(doc, key, default=default)
        if value not in choices:
            self.error(
                f"{key} {value!r} is not valid{did_you_mean(value, choices)}", doc.value_loc(key)
            )
        return value

    def version(self, doc: LocMap) -> int:
        value = doc.get("version", 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.error("'version' must be a whole number of at least 1", doc.value_loc("version"))
            return 1
        return value

    def duration(self, doc: LocMap, key: str) -> int | None:
        if doc.get(key) is None:
            return None
        seconds = parse_duration(doc[key])
        if seconds is None:
            self.error(
                f"{key} {doc[key]!r} is not a duration; write e.g. {DURATION_FORMS}",
                doc.value_loc(key),
            )
        return seconds

    def templates(self, doc: LocMap, key: str) -> dict[str, str]:
        result = self.text_map(doc, key)
        for name, template in result.items():
            problem = check_template(template)
            if problem:
                self.error(f"{key}.{name}: {problem}", doc[key].value_loc(name))
        return result

    def ident(self, doc: LocMap, what: str) -> str:
        ident = self.text(doc, "id" if what != "lexicon" else "lexicon", required=True)
        key = "id" if what != "lexicon" else "lexicon"
        if ident and not _NAME.match(ident):
            self.error(
                f"{what} name {ident!r} may only hold letters, digits, '_', '-' and '.'",
                doc.value_loc(key),
            )
        return ident

    # --- lexicons --------------------------------------------------------------------------

    def build_lexicon(self, doc: LocMap) -> Lexicon | None:
        self.check_keys(doc, _LEXICON_KEYS, "lexicon")
        name = self.ident(doc, "lexicon")
        kind = self.choice(doc, "kind", ("place", "actor", "term"), "term")
        canonical = doc.get("canonical")
        if kind in ("place", "actor"):
            if not canonical:
                self.error(
                    f"a {kind} lexicon needs 'canonical', its stable entity id "
                    f"(e.g. {kind}:{name.replace('_', '-')})",
                    doc.loc,
                )
            elif not str(canonical).startswith(f"{kind}:"):
                self.warn(
                    f"canonical {canonical!r} should start with '{kind}:'",
                    doc.value_loc("canonical"),
                )
        terms = self.text_list(doc, "terms")
        cased = self.text_list(doc, "cased")
        verbs = self.text_list(doc, "verbs")
        if not terms and not cased and not verbs:
            self.error("a lexicon needs at least one term in 'terms'", doc.loc)
        for key, values in (("terms", terms), ("cased", cased), ("verbs", verbs)):
            for i, term in enumerate(values):
                if (
                    not normalize_tokens(term.rstrip("*"))
                    or "*" in term.rstrip("*")
                    or not _encodable(term)
                ):
                    self.error(
                        f"lexicon term {term!r} has no words to match (or a '*' that is "
                        "not at the end)",
                        doc[key].item_loc(i),
                    )
        if name in self.lexicons:
            self.error(
                f"lexicon {name!r} is defined twice (first at {self.lexicons[name].location})",
                doc.value_loc("lexicon"),
            )
            return None
        lex = Lexicon(
            name=name,
            kind=kind,
            terms=terms,
            cased=cased,
            verbs=verbs,
            canonical=str(canonical) if canonical else None,
            title=self.text(doc, "title"),
            source=plain(doc),
            location=doc.loc,
        )
        self.lexicons[name] = lex
        return lex

    # --- terms -----------------------------------------------------------------------------

    def term(
        self, value: str, spec: FieldSpec, loc: SourceLocation, cased: bool, verb: bool = False
    ) -> Term | None:
        if not _encodable(value):
            self.error(f"value {value!r} holds a lone surrogate (a broken \\u escape)", loc)
            return None
        if spec.regex:
            try:
                compile_regex(value, spec.ignore_case)
            except re2.error as exc:
                detail = (
                    exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
                )
                self.error(f"RE2 cannot compile regex {value!r}: {detail}", loc)
                return None
            return Term(text=value, kind="regex")
        prefix = value.endswith("*")
        body = value[:-1] if prefix else value
        if "*" in body:
            self.error(
                f"value {value!r}: '*' is only allowed at the end, as a prefix wildcard", loc
            )
            return None
        if spec.keyword:
            folded = " ".join(normalize_tokens(body, cased=True)) if cased else body
            text = folded if cased else body.strip().casefold()
            return Term(text=text, kind="keyword", prefix=prefix, cased=cased)
        tokens = tuple(normalize_tokens(body))
        if not tokens:
            self.error(f"value {value!r} has no letters or digits to match", loc)
            return None
        if prefix and body[-1:].isspace():
            self.error(f"value {value!r}: put '*' right after a word, as in 'deploy*'", loc)
            return None
        return Term(text=body, kind="phrase", tokens=tokens, prefix=prefix, cased=cased, verb=verb)

    def slot(self, value: Any, spec: FieldSpec, loc: SourceLocation, weight: float) -> Slot | None:
        if isinstance(value, dict | list) or value is None:
            kind = "mapping" if isinstance(value, dict) else "list" if value is not None else "null"
            self.error(f"a value must be a word, a phrase or a pattern, not a {kind}", loc)
            return None
        value = str(value)
        ref = _LEXREF.match(value)
        if ref and not spec.regex:
            if not spec.expand:
                self.error(
                    f"value {value!r} names a lexicon; add '|expand' to the field to use it", loc
                )
                return None
            lex = self.lexicons.get(ref.group(1))
            if lex is None:
                self.error(unknown_lexicon(ref.group(1), self.lexicons), loc)
                return None
            terms = [self.term(t, spec, loc, spec.cased) for t in lex.terms]
            terms += [self.term(t, spec, loc, True) for t in lex.cased]
            terms += [self.term(t, spec, loc, spec.cased, verb=True) for t in lex.verbs]
            return Slot(value, tuple(t for t in terms if t is not None), weight)
        term = self.term(value, spec, loc, spec.cased)
        return Slot(value, (term,), weight) if term else None

    def field_match(
        self, key: Any, values: Any, loc: SourceLocation, vloc: SourceLocation
    ) -> FieldMatch | None:
        parts = str(key).split("|")
        fieldname = parts[0]
        if fieldname not in FIELDS:
            self.error(f"unknown field {fieldname!r}{did_you_mean(fieldname, FIELDS)}", loc)
            return None
        spec = FieldSpec(field=fieldname, keyword=fieldname in KEYWORD_FIELDS)
        try:
            for part in parts[1:]:
                name, _, arg_text = part.partition("=")
                cls = MODIFIERS.get(name)
                if cls is None:
                    raise ModifierError(f"unknown modifier {name!r}{did_you_mean(name, MODIFIERS)}")
                if spec.keyword and cls.text_only:
                    raise ModifierError(
                        f"'{name}' does not apply to keyword field {fieldname!r} "
                        "(feed, source, lang and tags match whole values)"
                    )
                arg: float | None = None
                if cls.argument and not arg_text:
                    raise ModifierError(f"'{name}' needs a value, e.g. {name}=10")
                if not cls.argument and arg_text:
                    raise ModifierError(f"'{name}' takes no value; write just '{name}'")
                if arg_text:
                    try:
                        arg = int(arg_text) if cls.argument == "int" else float(arg_text)
                    except ValueError:
                        raise ModifierError(
                            f"'{name}={arg_text}': {arg_text!r} is not a "
                            f"{'whole number' if cls.argument == 'int' else 'number'}"
                        ) from None
                cls().apply(spec, arg)
                spec.applied.append(part)
            check_spec(spec)
        except ModifierError as exc:
            self.error(str(exc), loc)
            return None
        slots: list[Slot | None] = []
        if spec.mode == "score":
            if not isinstance(values, LocMap):
                self.error(
                    "'score' needs a mapping of term to weight, e.g. {attack: 2, drill: -3}", vloc
                )
                return None
            for term, weight in values.items():
                if isinstance(weight, bool) or not isinstance(weight, int | float):
                    self.error(f"weight of {term!r} must be a number", values.value_loc(term))
                    continue
                slots.append(self.slot(term, spec, values.key_loc(term), float(weight)))
        else:
            items = values if isinstance(values, list) else [values]
            for i, value in enumerate(items):
                iloc = values.item_loc(i) if isinstance(values, LocList) else vloc
                slots.append(self.slot(value, spec, iloc, 1.0))
        if any(s is None for s in slots):
            return None
        if not slots:
            self.error(f"{key!r} has no values", vloc)
            return None
        if spec.mode in ("near", "onear", "sentence") and len(slots) < 2:
            self.error(f"'{spec.mode}' needs at least two values to relate", vloc)
            return None
        return FieldMatch(
            field=fieldname,
            key=str(key),
            slots=tuple(s for s in slots if s),
            mode=spec.mode,
            window=spec.window,
            min_count=spec.min_count,
            score=spec.score,
            regex=spec.regex,
            ignore_case=spec.ignore_case,
            cased=spec.cased,
            location=loc,
            suffixes=spec.suffixes,
        )

    def selection(self, name: str, body: Any, loc: SourceLocation) -> Selection | None:
        if isinstance(body, LocMap):
            groups: list[LocMap] | None = [body]
        elif isinstance(body, LocList) and body and all(isinstance(b, LocMap) for b in body):
            groups = list(body)
        elif (
            isinstance(body, LocList) and body and not any(isinstance(b, dict | list) for b in body)
        ):
            fm = self.field_match("text", body, loc, body.loc)  # a keyword list searches text
            return Selection(name, ((fm,),), loc) if fm else None
        else:
            groups = None
        if not groups:
            self.error(
                f"selection {name!r} must be a mapping of field: values, a list of such "
                "mappings, or a list of words",
                loc,
            )
            return None
        alternatives = []
        for group in groups:
            if not group:
                self.error(f"selection {name!r} has an empty mapping", group.loc)
                return None
            fms = [
                self.field_match(k, v, group.key_loc(k), group.value_loc(k))
                for k, v in group.items()
            ]
            if any(fm is None for fm in fms):
                return None
            alternatives.append(tuple(fm for fm in fms if fm))
        return Selection(name, tuple(alternatives), loc)
