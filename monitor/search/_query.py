"""The search query language: parsed here into a small AST, never passed raw to a database.

Grammar (operators in capitals, as in FTS5 and Lucene; lower-case ``and`` is a word)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*          -- juxtaposition is AND
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or ")" | '"' words '"' ["*"] | word["*"] | "@" [kind "."] lexicon

Words and phrases are normalized with the rule engine's `normalize_tokens` (case, diacritics,
Arabic letter variants), and an Arabic word or phrase becomes every written form the rule engine
gives it (`term_variants`: و ف ب ك ل and the article attached), so a search finds what a rule with
the same words would. ``@places.al_tanf`` becomes every spelling of that lexicon. A word that
normalizes into several (``al-Tanf``) is a phrase.

Written by hand rather than with a parser library: the grammar is five lines, and the errors
must say exactly which character to fix, bounded by `MAX_QUERY_CHARS`, `MAX_DEPTH` and
`MAX_TERMS` so that no input makes the parse or the database query unbounded.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ..errors import MonitorError
from ..rules import Lexicon, RuleSet, Term, normalize_tokens, term_variants

__all__ = [
    "MAX_DEPTH",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "And",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "QueryError",
    "lexicon_phrases",
    "parse_query",
    "phrases",
]

#: The longest query accepted, in characters.
MAX_QUERY_CHARS = 2_000
#: How deeply parentheses and NOTs may nest.
MAX_DEPTH = 32
#: The most phrases a query may hold once lexicons and Arabic forms are expanded.
MAX_TERMS = 2_000
#: The shortest prefix before a ``*`` (a one-letter prefix would match most of the index).
MIN_PREFIX = 2


class QueryError(MonitorError, ValueError):
    """A search query that cannot be read; the message says where and what to fix."""


@attrs.frozen
class Phrase:
    """Normalized words that must follow each other; `prefix`: the last one is a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


@attrs.frozen
class And:
    """Every part must match (some parts may be `Not`: those must not)."""

    parts: tuple[Node, ...]


@attrs.frozen
class Or:
    """At least one part must match."""

    parts: tuple[Node, ...]


@attrs.frozen
class Not:
    """The part must not match; only valid as a part of an `And` with a positive part."""

    part: Node


Node = Phrase | And | Or | Not

_KINDS = {"place": "place", "places": "place", "actor": "actor", "actors": "actor"}
_KINDS |= {"term": "term", "terms": "term"}
_SPECIAL = '()"'


def _lex(text: str) -> list[tuple[str, str, int]]:
    """Split `text` into (kind, value, column) tokens: ( ) phrase word op lexicon."""
    out: list[tuple[str, str, int]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append((ch, ch, i))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QueryError(
                    f"unbalanced quote at column {i + 1}: close the phrase with another '\"' "
                    "(or remove the quote)"
                )
            star = end + 1 < n and text[end + 1] == "*"
            out.append(("phrase*" if star else "phrase", text[i + 1 : end], i))
            i = end + (2 if star else 1)
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
                j += 1
            word = text[i:j]
            if word in ("AND", "OR", "NOT"):
                out.append(("op", word, i))
            elif word.startswith("-") and (len(word) > 1 or (j < n and text[j] in '("')):
                out.append(("op", "NOT", i))  # -ceasefire, -(a OR b), -"a b": NOT ...
                j = i + 1
            elif word.startswith("@"):
                out.append(("lexicon", word[1:], i))
            else:
                out.append(("word", word, i))
            i = j
    return out


class _Parser:
    """Recursive descent over the tokens of `_lex`, expanding terms as they are read."""

    def __init__(self, text: str, ruleset: RuleSet | None) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.at = 0
        self.ruleset = ruleset
        self.terms = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError("the query is empty: give at least one word to look for")
        node = self.or_(0)
        extra = self.peek()
        if extra is not None:
            raise QueryError(
                f"unexpected {extra[1]!r} at column {extra[2] + 1}: a ')' without its '('?"
            )
        return node

    def or_(self, depth: int) -> Node:
        parts = [self.and_(depth)]
        while (tok := self.peek()) is not None and tok[:2] == ("op", "OR"):
            self.at += 1
            parts.append(self.and_(depth))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self, depth: int) -> Node:
        parts = [self.unary(depth)]
        while (tok := self.peek()) is not None and tok[0] != ")" and tok[:2] != ("op", "OR"):
            if tok[:2] == ("op", "AND"):
                self.at += 1
            parts.append(self.unary(depth))
        parts = [p for p in parts if p is not _EMPTY]
        if not parts:
            return _EMPTY
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise QueryError(f"the query nests deeper than {MAX_DEPTH} levels; simplify it")
        tok = self.peek()
        if tok is None:
            raise QueryError("the query ends after an operator: add a word after it")
        kind, value, column = tok
        self.at += 1
        if kind == "op":
            if value != "NOT":
                raise QueryError(
                    f"{value} at column {column + 1} has nothing before it: put a word on "
                    f"each side of {value}"
                )
            inner = self.unary(depth + 1)
            return _EMPTY if inner is _EMPTY else Not(inner)
        if kind == "(":
            node = self.or_(depth + 1)
            close = self.peek()
            if close is None or close[0] != ")":
                raise QueryError(f"the '(' at column {column + 1} is never closed: add a ')'")
            self.at += 1
            return node
        if kind == ")":
            raise QueryError(f"unexpected ')' at column {column + 1}: it closes no '('")
        if kind == "lexicon":
            return self.count(self.lexicon(value, column))
        prefix = kind == "phrase*" or (kind == "word" and value.endswith("*"))
        body = value[:-1] if kind == "word" and prefix else value
        if "*" in body:
            raise QueryError(
                f"'*' inside {value!r} at column {column + 1}: put it at the end of a word, "
                "as in deploy*"
            )
        tokens = tuple(normalize_tokens(body))
        if not tokens:
            if kind.startswith("phrase"):
                raise QueryError(f"the phrase at column {column + 1} holds no words")
            return _EMPTY  # a lone punctuation mark, such as "&": nothing to look for
        if prefix and len(tokens[-1]) < MIN_PREFIX:
            raise QueryError(
                f"the prefix {value!r} at column {column + 1} is too short: give at least "
                f"{MIN_PREFIX} letters before '*'"
            )
        return self.count(_expand(Term(text=body, tokens=tokens, prefix=prefix)))

    def lexicon(self, ref: str, column: int) -> Node:
        kind, _, name = ref.rpartition(".")
        if not name:
            raise QueryError(f"'@' at column {column + 1} names no lexicon: write @places.NAME")
        if kind and kind not in _KINDS:
            raise QueryError(
                f"unknown lexicon kind {kind!r} at column {column + 1}: use places, actors "
                "or terms (or leave it out: @NAME)"
            )
        if self.ruleset is None:
            raise QueryError(
                f"@{ref} names a lexicon, but no rules are loaded: pass --rules (or use "
                "words instead)"
            )
        try:
            lex = self.ruleset.lexicon(name)
        except KeyError:
            known = sorted(x.name for x in self.ruleset.lexicons)
            close = [k for k in known if name.replace("-", "_") in k or k in name][:5]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise QueryError(f"no lexicon {name!r} in the loaded rules{hint}") from None
        if kind and _KINDS[kind] != lex.kind:
            raise QueryError(f"lexicon {name!r} is a {lex.kind} lexicon, not {kind}")
        return Or(lexicon_phrases(lex))

    def count(self, node: Node) -> Node:
        self.terms += _size(node)
        if self.terms > MAX_TERMS:
            raise QueryError(
                f"the query expands into more than {MAX_TERMS} words and phrases (lexicons and "
                "Arabic forms included); narrow it"
            )
        return node


class _Empty:
    """Placeholder for a word with no letters (``&``): dropped from its AND."""


_EMPTY: Node = _Empty()  # type: ignore[assignment]


def _expand(term: Term) -> Node:
    """`term` as the phrases the rule engine would match: its Arabic written forms, if any."""
    variants = term_variants(term)
    phrases = tuple(dict.fromkeys(Phrase(v.tokens, v.prefix) for v in variants))
    return phrases[0] if len(phrases) == 1 else Or(phrases)


def lexicon_phrases(lex: Lexicon) -> tuple[Node, ...]:
    """Every spelling of `lex` as phrases, Arabic forms expanded as the rule compiler does.

    The lexicon's ``cased`` spellings (``IS``, only in capitals) are left out: the index folds
    case, so they would match every ``is``."""
    out: list[Node] = []
    for values, verb in ((lex.terms, False), (lex.verbs, True)):
        for value in values:
            prefix = value.endswith("*")
            body = value[:-1] if prefix else value
            tokens = tuple(normalize_tokens(body))
            if tokens:
                out.append(_expand(Term(text=body, tokens=tokens, prefix=prefix, verb=verb)))
    return tuple(out)


def _size(node: Node) -> int:
    if isinstance(node, Phrase):
        return 1
    if isinstance(node, Not):
        return _size(node.part)
    return sum(_size(p) for p in node.parts)


def _check_negation(node: Node, top: bool = True) -> None:
    """NOT only subtracts: it needs a positive part beside it in an AND (``a NOT b``). A query
    that is only negative, or ``a OR NOT b``, would list most of the index."""
    if isinstance(node, Not):
        raise QueryError(
            "NOT needs something to subtract from: write 'word NOT other' (a query of only "
            "NOTs, or 'a OR NOT b', would list almost every item)"
        )
    if isinstance(node, And):
        positives = [p for p in node.parts if not isinstance(p, Not)]
        if not positives:
            _check_negation(node.parts[0])
        for part in node.parts:
            _check_negation(part.part if isinstance(part, Not) else part, False)
    elif isinstance(node, Or):
        for part in node.parts:
            _check_negation(part, False)


def parse_query(text: str, ruleset: RuleSet | None = None) -> Node:
    """Parse and expand a search query (see the module docstring).

    Args:
        text: what the user typed.
        ruleset: the rules whose lexicons ``@name`` refers to (None: lexicons are an error).

    Raises:
        QueryError: the query is empty, too long, unbalanced, names an unknown lexicon, is only
            negative, or expands into too many terms; the message says what to fix.
    """
    if not isinstance(text, str):
        raise QueryError(f"a query is text, not {type(text).__name__}")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_CHARS:,}"
        )
    node = _Parser(text, ruleset).parse()
    if node is _EMPTY:
        raise QueryError("the query holds no letters or digits to look for")
    _check_negation(node)
    return node


def phrases(node: Node) -> Iterable[Phrase]:
    """Every positive phrase of `node` (for highlighting), left to right."""
    if isinstance(node, Phrase):
        yield node
    elif isinstance(node, And | Or):
        for part in node.parts:
            yield from phrases(part)
