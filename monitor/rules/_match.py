"""The hot path: one item in, the matching rules with their evidence out.

Per item: each text field is normalized once and scanned once by the term scanner
(`ItemView`, see `_scan`); the presearcher picks candidate rules from the hit terms; only
candidates' conditions are evaluated, with small pure functions over the hits. Word
positions, original character offsets and sentence numbers are only computed when a
condition or the evidence needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from itertools import chain
from typing import Any

import attrs

from ..events import Evidence, ItemReceived, format_time
from ._compile import CField, CompiledRules, CRule, CSlot
from ._model import And, Node, Not, Or, Ref, Term
from ._normalize import NormText, normalize_tokens

__all__ = [
    "MAX_FIELD_CHARS",
    "ItemView",
    "Match",
    "candidates",
    "eval_field",
    "eval_node",
    "item_fields",
    "match_item",
    "proximity",
]

#: Text beyond this many characters per field is not scanned: a 100 MB "summary" is junk, and
#: the limit keeps one item's cost bounded (about a second at worst) instead of unbounded.
MAX_FIELD_CHARS = 2_000_000
_EVIDENCE_PER_FIELD = 20
_TEXTUAL = ("title", "summary", "content", "author", "url")


def _resolved(value: Any) -> Any:
    return value() if callable(value) else value


@attrs.frozen
class Match:
    """One rule that matched one item, with what it found and where.

    `evidence` and `annotations` may be given as functions that compute them, and are then
    computed on first read: most matches of a busy rule become throttled repeats, whose
    stored record keeps neither, so the rule engine does not locate evidence or render
    annotation templates that nobody reads. Equality, `repr` and pickling see the values.
    """

    rule_id: str
    rule_version: int
    level: str
    title: str
    entities: tuple[str, ...]
    _evidence: tuple[Evidence, ...] | Callable[[], tuple[Evidence, ...]] = attrs.field(
        alias="evidence", eq=_resolved, hash=False, repr=lambda v: repr(_resolved(v))
    )
    labels: dict[str, str] = attrs.field(factory=dict, hash=False)
    _annotations: dict[str, str] | Callable[[], dict[str, str]] = attrs.field(
        alias="annotations",
        factory=dict,
        eq=_resolved,
        hash=False,
        repr=lambda v: repr(_resolved(v)),
    )
    throttle: int | None = None
    throttle_by: tuple[str, ...] | None = None

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        """Where the rule's terms were found (computed on first read when deferred)."""
        if callable(self._evidence):
            object.__setattr__(self, "_evidence", self._evidence())
        return self._evidence  # type: ignore[return-value]

    @property
    def annotations(self) -> dict[str, str]:
        """The rule's annotations rendered for this item (on first read when deferred)."""
        if callable(self._annotations):
            object.__setattr__(self, "_annotations", self._annotations())
        return self._annotations  # type: ignore[return-value]

    def __reduce__(self) -> tuple[Any, ...]:
        # Deferred values are functions of this process's view of the item: send the values.
        return (
            Match,
            (
                self.rule_id,
                self.rule_version,
                self.level,
                self.title,
                self.entities,
                self.evidence,
                self.labels,
                self.annotations,
                self.throttle,
                self.throttle_by,
            ),
        )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, list | tuple):
        text = "; ".join(_as_text(v) for v in value)
    else:
        text = str(value)
    text = text[:MAX_FIELD_CHARS]
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates (from JSON "\ud800" or bad decoding) cannot reach RE2 or
            # stdout; each becomes "?", one character for one, so offsets still hold.
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def item_fields(item: Mapping[str, Any] | ItemReceived) -> dict[str, Any]:
    """Return the item's fields as plain values (texts, and a tuple for ``tags``).

    Accepts a mapping with any of id, title, summary, content, author (or authors), tags, feed
    (or feed_id), source, url, lang, published, or an `ItemReceived` event.
    """
    if isinstance(item, ItemReceived):
        raw: Mapping[str, Any] = {
            "id": item.item_id,
            "title": item.title,
            "summary": item.summary,
            "content": item.content,
            "author": list(item.authors),
            "tags": list(item.tags),
            "feed": item.feed_id,
            "source": item.source,
            "url": item.url,
            # A rule's `lang` scope is the language of the text when it was detected (the
            # detector defers to the feed for Latin-script languages it cannot tell apart).
            "lang": item.text_lang or item.lang,
            "published": format_time(item.published) if item.published else None,
        }
    elif isinstance(item, Mapping):
        raw = item
    else:
        raise TypeError(f"an item is a mapping or an ItemReceived, not {type(item).__name__}")
    fields: dict[str, Any] = {}
    for name in ("id", "title", "summary", "content", "url", "lang", "source", "published"):
        fields[name] = _as_text(raw.get(name))
    fields["author"] = _as_text(raw.get("author", raw.get("authors")))
    fields["feed"] = _as_text(raw.get("feed", raw.get("feed_id")))
    tags = raw.get("tags") or ()
    fields["tags"] = (tags,) if isinstance(tags, str) else tuple(_as_text(t) for t in tags)
    return fields


class ItemView:
    """One item prepared for matching: normalized fields and scanner hits per field.

    ``hits[field]`` holds every term id found in that field; its value lists where each
    occurrence starts (a word index in ``norm[field].words`` when ``word_positions``, else an
    offset that `NormText.word_at` turns into one), or is None until `starts` is asked: a
    scanner may report only which terms occur, and positions are then found on demand, for
    the few terms a condition or the evidence looks at (see `monitor.rules._scan`).
    """

    __slots__ = (
        "_by_sentence",
        "_entries",
        "_occurrences",
        "_present",
        "_proximity",
        "_scanner",
        "_slot_hits",
        "_tid_slots",
        "_words",
        "fields",
        "hits",
        "norm",
        "word_positions",
    )

    def __init__(self, fields: dict[str, Any], compiled: CompiledRules) -> None:
        self.fields = fields
        # Per-item results shared by every candidate rule (see `CSlot.key`, `CField.key`):
        # word positions of a term, a slot's hit terms, occurrences and sentence map in a
        # field, an entry's verdict and proximity spans. Most rules of a pack name the same
        # few lexicons, so each is computed once per item instead of once per rule.
        self._words: dict[tuple[str, int], list[int]] = {}
        self._slot_hits: dict[tuple[str, int], list[tuple[int, Term]]] = {}
        self._occurrences: dict[tuple[str, int], list[tuple[int, int]]] = {}
        self._by_sentence: dict[tuple[str, int], dict[int, tuple[int, int]]] = {}
        self._entries: dict[int, bool] = {}
        self._proximity: dict[int, tuple[str, list[tuple[int, int]]] | None] = {}
        self._present: dict[str, set[int]] = {}
        self._tid_slots = compiled.tid_slots
        self.norm: dict[str, NormText] = {}
        self.hits: dict[str, dict[int, list[int] | None]] = {}
        scanner = compiled.scanner
        self._scanner = scanner
        scan = scanner.scan
        self.word_positions = scanner.word_positions
        for name in compiled.scan_fields:
            text = fields.get(name)
            if not text:
                continue
            nt = NormText(text)
            self.norm[name] = nt
            found = scan(nt)
            if found:
                self.hits[name] = found

    def starts(self, name: str, tid: int) -> list[int]:
        """Where term `tid` starts in field `name` (scanner units; empty when absent)."""
        hits = self.hits.get(name)
        if not hits or tid not in hits:
            return []
        found = hits[tid]
        if found is None:
            found = hits[tid] = self._scanner.positions(self.norm[name], tid)
        return found

    def word_starts(self, name: str, tid: int) -> list[int]:
        """Word indexes where term `tid` starts in field `name` (computed once per item)."""
        key = (name, tid)
        found = self._words.get(key)
        if found is None:
            found = self.starts(name, tid)
            if not self.word_positions and found:
                word_at = self.norm[name].word_at
                found = [word_at(pos) for pos in found]
            self._words[key] = found
        return found

    def present(self, name: str) -> set[int]:
        """Keys of the slots (`CSlot.key`) with a term hit in field `name`: one pass over the
        field's hits per item, then a set lookup answers "is this lexicon here?" for every
        candidate rule."""
        found = self._present.get(name)
        if found is None:
            hits = self.hits.get(name) or ()
            found = set(chain.from_iterable(map(self._tid_slots.__getitem__, hits)))
            self._present[name] = found
        return found

    def slot_hits(self, name: str, slot: CSlot) -> list[tuple[int, Term]]:
        """`CSlot.hit_phrases` of field `name`, once per item and slot content."""
        if slot.key not in self.present(name):
            return []
        key = (name, slot.key)
        found = self._slot_hits.get(key)
        if found is None:
            found = self._slot_hits[key] = slot.hit_phrases(self.hits[name])
        return found

    def keyword_values(self, name: str) -> tuple[str, ...]:
        """The values of a keyword field as written (``tags`` may hold several)."""
        value = self.fields.get(name)
        if name == "tags":
            return tuple(v for v in value or () if v)
        return (value,) if value else ()


@lru_cache(maxsize=4096)
def _cased_tokens(text: str) -> tuple[str, ...]:
    return tuple(normalize_tokens(text, cased=True))


def cased_text_ok(text: str, term: Term) -> bool:
    """Whether `text` (one occurrence of a ``cased`` term, as written) has the term's case."""
    want = _cased_tokens(term.text)
    got = normalize_tokens(text, cased=True)
    if len(got) != len(want):
        return False
    if term.prefix:
        return got[:-1] == list(want[:-1]) and got[-1].startswith(want[-1])
    return got == list(want)


def _case_ok(nt: NormText, first: int, last: int, term: Term) -> bool:
    start, end = nt.span(first, last)
    return cased_text_ok(nt.original[start:end], term)


def _phrase_occurrences(view: ItemView, name: str, tid: int, term: Term) -> list[tuple[int, int]]:
    """Word spans ``(first, last)`` of `term` in field `name` (case-checked when cased)."""
    starts = view.word_starts(name, tid)
    if not starts:
        return []
    width = len(term.tokens) - 1
    if not term.cased:
        return [(first, first + width) for first in starts]
    nt = view.norm[name]
    return [(f, f + width) for f in starts if _case_ok(nt, f, f + width, term)]


def _keyword_hits(view: ItemView, name: str, term: Term) -> list[str]:
    hits = []
    for value in view.keyword_values(name):
        have = value if term.cased else value.strip().casefold()
        if have == term.text or (term.prefix and have.startswith(term.text)):
            hits.append(value)
    return hits


def _regex_targets(view: ItemView, name: str) -> tuple[str, ...]:
    if name in _TEXTUAL:
        text = view.fields.get(name)
        return (text,) if text else ()
    return view.keyword_values(name)


def _slot_count(view: ItemView, cf: CField, slot: CSlot, enough: int) -> int:
    """Count occurrences of `slot` in `cf`'s fields, stopping once `enough` are seen."""
    count = 0
    for name in cf.fields:
        hits = view.hits.get(name)
        if hits:
            for tid, term in view.slot_hits(name, slot):
                if term.cased:
                    count += len(_phrase_occurrences(view, name, tid, term))
                elif enough - count == 1:
                    return enough  # presence is enough: no positions needed
                else:
                    count += len(view.starts(name, tid))
                if count >= enough:
                    return count
        for text in _regex_targets(view, name) if slot.regexes else ():
            for regex, literal in zip(slot.regexes, slot.regex_literals, strict=True):
                if literal >= 0 and (not hits or literal not in hits):
                    continue  # its literal is not in this field: it cannot match here
                if enough == 1:
                    count += regex.search(text) is not None
                else:
                    count += sum(1 for _ in regex.finditer(text))
                if count >= enough:
                    return count
        for term in slot.keywords:
            count += len(_keyword_hits(view, name, term))
            if count >= enough:
                return count
    return count


def _occurrences(view: ItemView, name: str, slot: CSlot) -> list[tuple[int, int]]:
    """Sorted word spans of every term of `slot` in field `name` (once per item and slot
    content; callers must not modify the list)."""
    key = (name, slot.key)
    spans = view._occurrences.get(key)
    if spans is None:
        spans = []
        for tid, term in view.slot_hits(name, slot):
            spans.extend(_phrase_occurrences(view, name, tid, term))
        spans.sort()
        view._occurrences[key] = spans
    return spans


def _sentence_map(view: ItemView, name: str, slot: CSlot) -> dict[int, tuple[int, int]]:
    """Sentence number -> the first span of `slot` in it, in field `name` (once per item).

    A phrase that runs across a sentence's end ("al-Tanf" and, after a blank line,
    "convoy") occurs in neither sentence, so it is left out."""
    key = (name, slot.key)
    found = view._by_sentence.get(key)
    if found is None:
        sentence_of = view.norm[name].sentence_of
        found = {}
        for first, last in reversed(_occurrences(view, name, slot)):
            sentence = sentence_of(first)
            if first == last or sentence_of(last) == sentence:
                found[sentence] = (first, last)
        view._by_sentence[key] = found
    return found


def _near(per_slot: list[list[tuple[int, int]]], window: int) -> list[tuple[int, int]] | None:
    """Smallest window holding one occurrence of every slot, any order, starts <= window apart."""
    events = sorted((span[0], i, span) for i, spans in enumerate(per_slot) for span in spans)
    need = len(per_slot)
    counts = [0] * need
    covered = 0
    left = 0
    best: tuple[int, int, int] | None = None
    for right, (pos, slot, _) in enumerate(events):
        counts[slot] += 1
        if counts[slot] == 1:
            covered += 1
        while covered == need:
            lpos, lslot, _ = events[left]
            if pos - lpos <= window and (best is None or pos - lpos < best[0]):
                best = (pos - lpos, left, right)
            counts[lslot] -= 1
            if counts[lslot] == 0:
                covered -= 1
            left += 1
    if best is None:
        return None
    chosen: dict[int, tuple[int, int]] = {}
    for _, slot, span in events[best[1] : best[2] + 1]:
        chosen.setdefault(slot, span)
    return list(chosen.values())


def _onear(per_slot: list[list[tuple[int, int]]], window: int) -> list[tuple[int, int]] | None:
    """One occurrence per slot in the listed order, each after the previous, within window."""
    for first in per_slot[0]:
        chain = [first]
        for spans in per_slot[1:]:
            nxt = next((s for s in spans if s[0] > chain[-1][0]), None)
            if nxt is None:
                break
            chain.append(nxt)
        if len(chain) == len(per_slot) and chain[-1][0] - first[0] <= window:
            return chain
    return None


def _sentence(view: ItemView, name: str, slots: tuple[CSlot, ...]) -> list[tuple[int, int]] | None:
    by_sentence = [_sentence_map(view, name, slot) for slot in slots]
    common = set(by_sentence[0]).intersection(*by_sentence[1:])
    if not common:
        return None
    sentence = min(common)
    return [d[sentence] for d in by_sentence]


def proximity(view: ItemView, cf: CField) -> tuple[str, list[tuple[int, int]]] | None:
    """For near/onear/sentence: the field and word spans that satisfy it, or None (once per
    item and entry content: the evidence asks again for what the condition found)."""
    memo = view._proximity
    if cf.key in memo:
        return memo[cf.key]
    found = memo[cf.key] = _proximity(view, cf)
    return found


def _proximity(view: ItemView, cf: CField) -> tuple[str, list[tuple[int, int]]] | None:
    fm = cf.source
    for name in cf.fields:
        if name not in view.hits:
            continue
        present = view.present(name)
        if not all(slot.key in present for slot in cf.slots):
            continue  # a slot has no term in this field: no occurrence to look up
        per_slot = [_occurrences(view, name, slot) for slot in cf.slots]
        if not all(per_slot):
            continue
        if fm.mode == "near":
            found = _near(per_slot, fm.window or 0)
        elif fm.mode == "onear":
            found = _onear(per_slot, fm.window or 0)
        else:
            found = _sentence(view, name, cf.slots)
        if found:
            return name, found
    return None


def eval_field(view: ItemView, cf: CField) -> bool:
    """Whether one ``field|modifiers: values`` entry holds for the item (evaluated once per
    item and entry content, whichever rules share it)."""
    memo = view._entries
    found = memo.get(cf.key)
    if found is None:
        found = memo[cf.key] = _eval_field(view, cf)
    return found


def _eval_field(view: ItemView, cf: CField) -> bool:
    fm = cf.source
    mode = fm.mode
    if mode == "any":
        need = fm.min_count
        total = 0
        for slot in cf.slots:
            total += _slot_count(view, cf, slot, need - total)
            if total >= need:
                return True
        return False
    if mode == "all":
        return all(_slot_count(view, cf, s, fm.min_count) >= fm.min_count for s in cf.slots)
    if mode == "score":
        score = sum(s.weight for s in cf.slots if _slot_count(view, cf, s, 1))
        return score >= (fm.score or 0.0)
    return proximity(view, cf) is not None


def eval_node(node: Node, crule: CRule, view: ItemView, memo: dict[str, bool]) -> bool:
    """Evaluate a condition tree; selection results are memoized in `memo`."""
    if isinstance(node, Ref):
        value = memo.get(node.name)
        if value is None:
            value = memo[node.name] = any(
                all(eval_field(view, cf) for cf in group) for group in crule.selections[node.name]
            )
        return value
    if isinstance(node, Not):
        return not eval_node(node.arg, crule, view, memo)
    if isinstance(node, And):
        return all(eval_node(a, crule, view, memo) for a in node.args)
    if isinstance(node, Or):
        return any(eval_node(a, crule, view, memo) for a in node.args)
    raise TypeError(f"unresolved condition node {node!r}")


def candidates(view: ItemView, compiled: CompiledRules) -> list[int]:
    """Indexes of the rules worth evaluating: every presearch clause hit, or always evaluated.

    Runs once per item over every hit term, so the term-to-rule gathering is done by C-level
    builtins (``map``/``chain``); only the rules it reaches pay a Python-level check of
    their other clauses (a loop: measured faster than ``any(map(...))`` for one clause).
    """
    per_field = list(view.hits.values())
    if not per_field:
        return list(compiled.always)
    hit = per_field[0].keys() if len(per_field) == 1 else set().union(*per_field)
    found = set(chain.from_iterable(map(compiled.tid_rules.__getitem__, hit)))
    if compiled.always:
        found.update(compiled.always)
    rest = compiled.rest_clauses.get
    keep = []
    for index in found:
        clauses = rest(index)
        if clauses is not None:
            for clause in clauses:
                if hit.isdisjoint(clause):
                    break
            else:
                keep.append(index)
        else:
            keep.append(index)
    keep.sort()
    return keep


def _some_way_hit(view: ItemView, compiled: CompiledRules, indexes: list[int]) -> list[int]:
    """The `candidates` some way of matching could still match: one branch of the rule's
    condition (see `_compile._branches`) has every clause hit. A clause (a lexicon's terms)
    is shared by many rules, so each is tested once per item. The presearch index holds one
    clause per rule; this keeps a rule named by "al-Tanf" from being evaluated when none of
    the words its condition needs beside "al-Tanf" occur.
    """
    branches = compiled.branches.get
    per_field = list(view.hits.values())
    hit = per_field[0].keys() if len(per_field) == 1 else set().union(*per_field)
    sets = compiled.clause_sets
    tested: dict[int, bool] = {}
    kept = []
    for index in indexes:
        ways = branches(index)
        if ways is None:
            kept.append(index)
            continue
        for way in ways:
            for cid in way:
                ok = tested.get(cid)
                if ok is None:
                    ok = tested[cid] = not hit.isdisjoint(sets[cid])
                if not ok:
                    break
            else:
                kept.append(index)
                break
    return kept


def match_item(view: ItemView, compiled: CompiledRules) -> list[tuple[CRule, dict[str, bool]]]:
    """The compiled rules whose condition holds, with their selection results."""
    matched = []
    rules = compiled.rules
    indexes = candidates(view, compiled)
    if compiled.branches and indexes:
        indexes = _some_way_hit(view, compiled, indexes)
    for index in indexes:
        crule = rules[index]
        memo: dict[str, bool] = {}
        if eval_node(crule.condition, crule, view, memo):
            matched.append((crule, memo))
    return matched
