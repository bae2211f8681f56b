"""Evidence and entities: what a matched rule found, where, in the original text.

Only computed for rules that matched (and for `explain`), so the offset maps it needs are
built lazily, once per field, by `NormText.spans`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from ..events import Evidence
from ._compile import ENTITY_FIELDS, CField, CompiledRules, CRule
from ._match import (
    _EVIDENCE_PER_FIELD,
    ItemView,
    _keyword_hits,
    _occurrences,
    _phrase_occurrences,
    _regex_targets,
    cased_text_ok,
    eval_field,
    proximity,
)
from ._model import Term
from ._normalize import NormText
from ._scan import spaced_pattern

__all__ = ["field_evidence", "item_entities", "rule_evidence"]


def _spans_evidence(
    view: ItemView, name: str, spans: list[tuple[int, int]], selection: str
) -> Iterator[Evidence]:
    nt = view.norm[name]
    for first, last in spans[:_EVIDENCE_PER_FIELD]:
        start, end = nt.span(first, last)
        yield Evidence(
            field=name, start=start, end=end, text=nt.original[start:end], selection=selection
        )


@lru_cache(maxsize=8192)
def _phrase_regex(term: Term) -> re.Pattern[str]:
    """A phrase's words in ``scan_text``, where they may be several spaces apart.

    The trailing space is looked at, not consumed: it may lead the next occurrence.
    """
    return re.compile(spaced_pattern(term, end="(?= )"))


def _ascii_spans(nt: NormText, term: Term) -> list[tuple[int, int]]:
    """Original character spans of `term` in an ASCII field, found in ``scan_text``.

    Folding ASCII keeps every character in place (``scan_text`` is the folded text after one
    padding space), so this needs neither the single-spaced ``joined`` nor word positions:
    evidence for a plain match costs a search for the matched terms only.
    """
    text = nt.scan_text
    spans = []
    if len(term.tokens) == 1:
        key = " " + term.tokens[0] + ("" if term.prefix else " ")
        pos = text.find(key)
        while pos >= 0 and len(spans) < _EVIDENCE_PER_FIELD:
            end = text.find(" ", pos + 1) if term.prefix else pos + len(key) - 1
            spans.append((pos, end - 1))
            pos = text.find(key, end)
    else:
        for match in _phrase_regex(term).finditer(text):
            end = text.find(" ", match.end()) if term.prefix else match.end()
            spans.append((match.start(), end - 1))
            if len(spans) >= _EVIDENCE_PER_FIELD:
                break
    if term.cased:
        spans = [s for s in spans if cased_text_ok(nt.original[s[0] : s[1]], term)]
    return spans


def field_evidence(view: ItemView, cf: CField, selection: str) -> list[Evidence]:
    """Where one entry matched: every occurrence it used, as original character spans."""
    out: list[Evidence] = []
    if cf.source.mode in ("near", "onear", "sentence"):
        found = proximity(view, cf)
        if found:
            out.extend(_spans_evidence(view, found[0], sorted(found[1]), selection))
        return out
    for name in cf.fields:
        hits = view.hits.get(name) or {}
        if hits:
            nt = view.norm[name]
            if nt.original.isascii():
                direct = {
                    span
                    for slot in cf.slots
                    for tid, term in view.slot_hits(name, slot)
                    for span in _ascii_spans(nt, term)
                }
                original = nt.original
                out.extend(
                    Evidence(
                        field=name,
                        start=start,
                        end=end,
                        text=original[start:end],
                        selection=selection,
                    )
                    for start, end in sorted(direct)[:_EVIDENCE_PER_FIELD]
                )
            else:
                spans = sorted({s for slot in cf.slots for s in _occurrences(view, name, slot)})
                out.extend(_spans_evidence(view, name, spans, selection))
        for slot in cf.slots:
            for text in _regex_targets(view, name) if slot.regexes else ():
                for regex, literal in zip(slot.regexes, slot.regex_literals, strict=True):
                    if literal >= 0 and literal not in hits:
                        continue
                    for i, m in enumerate(regex.finditer(text)):
                        if i >= _EVIDENCE_PER_FIELD:
                            break
                        out.append(
                            Evidence(
                                field=name,
                                start=m.start(),
                                end=m.end(),
                                text=m.group(0),
                                selection=selection,
                            )
                        )
            for term in slot.keywords:
                out.extend(
                    Evidence(field=name, start=0, end=len(v), text=v, selection=selection)
                    for v in _keyword_hits(view, name, term)
                )
    return out


def item_entities(view: ItemView, compiled: CompiledRules) -> tuple[str, ...]:
    """Canonical ids of every place/actor lexicon found in the item's title, summary, content."""
    found: set[str] = set()
    for name in ENTITY_FIELDS:
        hits = view.hits.get(name)
        if not hits:
            continue
        for tid in hits:
            for canonical, term in compiled.tid_entities.get(tid, ()):
                if canonical in found:
                    continue
                if term.cased and not _phrase_occurrences(view, name, tid, term):
                    continue
                found.add(canonical)
    return tuple(sorted(found))


def rule_evidence(view: ItemView, crule: CRule, memo: dict[str, bool]) -> tuple[Evidence, ...]:
    """Evidence of a matched rule: occurrences from its true, non-negated selections."""
    out: list[Evidence] = []
    for name in sorted(crule.positive):
        if not memo.get(name):
            continue
        for group in crule.selections[name]:
            if all(eval_field(view, cf) for cf in group):
                for cf in group:
                    out.extend(field_evidence(view, cf, name))
                break
    order = {name: i for i, name in enumerate(("title", "summary", "content", "author", "url"))}
    unique = {(e.field, e.start, e.end, e.selection): e for e in out}
    return tuple(
        sorted(
            unique.values(),
            key=lambda e: (order.get(e.field, 9), e.field, e.start, e.end, e.selection),
        )
    )
