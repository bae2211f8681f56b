"""The condition grammar: ``and``, ``or``, ``not``, parentheses, ``1 of x*``, ``all of them``.

Precedence is Sigma's: ``not`` binds tighter than ``and``, which binds tighter than ``or``.
A hand-written recursive-descent parser (the grammar is six tokens) so every error carries
the column where the condition went wrong.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

from ._model import And, Node, Not, Or, Quantified, Ref

__all__ = ["ConditionSyntaxError", "parse_condition", "referenced", "resolve"]

_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z0-9_*.\-]+))")


class ConditionSyntaxError(ValueError):
    """The condition text cannot be parsed; ``column`` is 1-based within the condition."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


def _tokenize(text: str) -> list[tuple[str, int]]:
    tokens = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            bad = len(text[pos:]) - len(text[pos:].lstrip())
            raise ConditionSyntaxError(
                f"unexpected character {text[pos + bad]!r} in condition", pos + bad + 1
            )
        tok = m.group(1) or m.group(2) or m.group(3)
        tokens.append((tok, m.start(m.lastindex or 0) + 1))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.end_col = len(text) + 1

    def peek(self) -> str | None:
        return self.tokens[self.pos][0].lower() if self.pos < len(self.tokens) else None

    def column(self) -> int:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else self.end_col

    def take(self) -> tuple[str, int]:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> Node:
        if not self.tokens:
            raise ConditionSyntaxError("the condition is empty", 1)
        node = self.parse_or()
        if self.pos < len(self.tokens):
            tok, col = self.tokens[self.pos]
            raise ConditionSyntaxError(
                f"unexpected {tok!r}; join conditions with 'and' or 'or'", col
            )
        return node

    def parse_or(self) -> Node:
        args = [self.parse_and()]
        while self.peek() == "or":
            self.take()
            args.append(self.parse_and())
        return args[0] if len(args) == 1 else Or(tuple(args))

    def parse_and(self) -> Node:
        args = [self.parse_not()]
        while self.peek() == "and":
            self.take()
            args.append(self.parse_not())
        return args[0] if len(args) == 1 else And(tuple(args))

    def parse_not(self) -> Node:
        if self.peek() == "not":
            self.take()
            return Not(self.parse_not())
        return self.parse_atom()

    def parse_atom(self) -> Node:
        tok = self.peek()
        col = self.column()
        if tok is None:
            raise ConditionSyntaxError("the condition ends too early; a selection is missing", col)
        if tok == "(":
            self.take()
            node = self.parse_or()
            if self.peek() != ")":
                raise ConditionSyntaxError("missing ')'", self.column())
            self.take()
            return node
        if tok in (")", "and", "or"):
            raise ConditionSyntaxError(f"unexpected {tok!r}; a selection name is missing", col)
        if (
            tok in ("1", "all", "any")
            and self.pos + 1 < len(self.tokens)
            and self.tokens[self.pos + 1][0].lower() == "of"
        ):
            self.take()
            self.take()
            if self.peek() in (None, "(", ")", "and", "or", "not"):
                raise ConditionSyntaxError(
                    "'of' needs a selection pattern such as sel_* or 'them'", self.column()
                )
            pattern, _ = self.take()
            return Quantified("all" if tok == "all" else "1", pattern, col)
        if tok == "of":
            raise ConditionSyntaxError("'of' must follow '1' or 'all'", col)
        name, _ = self.take()
        if "*" in name:
            raise ConditionSyntaxError(
                f"wildcard {name!r} needs a quantifier: write '1 of {name}' or 'all of {name}'",
                col,
            )
        return Ref(name, col)


def parse_condition(text: str) -> Node:
    """Parse a condition into frozen nodes (``Quantified`` still unresolved).

    Raises:
        ConditionSyntaxError: with the 1-based column of the fault.
    """
    return _Parser(text).parse()


def _expand(pattern: str, names: Sequence[str]) -> list[str]:
    if pattern.lower() == "them":
        return list(names)
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def referenced(node: Node, names: Sequence[str]) -> set[str]:
    """Return the selection names a condition refers to, patterns expanded against `names`."""
    if isinstance(node, Ref):
        return {node.name}
    if isinstance(node, Quantified):
        return set(_expand(node.pattern, names))
    if isinstance(node, Not):
        return referenced(node.arg, names)
    return set().union(*(referenced(a, names) for a in node.args))


def resolve(node: Node, names: Sequence[str]) -> Node:
    """Return a new tree with every ``Quantified`` replaced by ``And``/``Or`` of ``Ref``s.

    The caller has checked that every pattern matches at least one name.
    """
    if isinstance(node, Ref):
        return node
    if isinstance(node, Quantified):
        refs = tuple(Ref(n, node.column) for n in _expand(node.pattern, names))
        if len(refs) == 1:
            return refs[0]
        return And(refs) if node.quantifier == "all" else Or(refs)
    if isinstance(node, Not):
        return Not(resolve(node.arg, names))
    args = tuple(resolve(a, names) for a in node.args)
    return And(args) if isinstance(node, And) else Or(args)
