"""Render a parsed query (`_query.Node`) into each backend's syntax: an SQLite FTS5 MATCH
expression and a PostgreSQL ``to_tsquery('simple', ...)`` text.

Both are built only from normalized tokens, which hold letters and digits alone (the rule
engine's normalizer turns every other character into a space), and each token is still quoted
as a string, so no user character can reach either syntax as an operator.
"""

from __future__ import annotations

from ._query import And, Node, Not, Or, Phrase

__all__ = ["to_fts5", "to_tsquery"]


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def to_fts5(node: Node) -> str:
    """The FTS5 MATCH expression for `node` (``"a b" *``, ``AND``, ``OR``, ``NOT``)."""
    if isinstance(node, Phrase):
        out = _fts5_string(" ".join(node.tokens))
        return out + " *" if node.prefix else out
    if isinstance(node, Or):
        return "(" + " OR ".join(to_fts5(p) for p in node.parts) + ")"
    if isinstance(node, And):
        positive = [to_fts5(p) for p in node.parts if not isinstance(p, Not)]
        negative = [to_fts5(p.part) for p in node.parts if isinstance(p, Not)]
        out = "(" + " AND ".join(positive) + ")"
        for part in negative:  # FTS5's NOT is binary: (a AND b) NOT c NOT d
            out = f"({out} NOT {part})"
        return out
    raise TypeError(f"cannot render {node!r}")  # Not alone is refused by parse_query


def _lexeme(token: str) -> str:
    return "'" + token.replace("'", "''").replace("\\", "\\\\") + "'"


def to_tsquery(node: Node) -> str:
    """The ``to_tsquery`` text for `node` (``'a' <-> 'b':*``, ``&``, ``|``, ``!``)."""
    if isinstance(node, Phrase):
        words = [_lexeme(t) for t in node.tokens]
        if node.prefix:
            words[-1] += ":*"
        return words[0] if len(words) == 1 else "(" + " <-> ".join(words) + ")"
    if isinstance(node, Or):
        return "(" + " | ".join(to_tsquery(p) for p in node.parts) + ")"
    if isinstance(node, And):
        return "(" + " & ".join(to_tsquery(p) for p in node.parts) + ")"
    if isinstance(node, Not):
        return "!" + to_tsquery(node.part)
    raise TypeError(f"cannot render {node!r}")
