"""Field modifiers (``text|near=15``): a registry of small classes.

Each modifier changes one aspect of a `FieldSpec` being built; the registry's keys also power
the "unknown modifier, did you mean ..." message. Adding a modifier = one class + one entry.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

__all__ = ["MODIFIERS", "FieldSpec", "Modifier", "ModifierError", "check_spec"]


class ModifierError(ValueError):
    """A modifier is misused; the message says what to write instead."""


@attrs.define
class FieldSpec:
    """What the modifiers of one selection key ask for (mutable while being built)."""

    field: str
    keyword: bool
    mode: str = "any"
    window: int | None = None
    min_count: int = 1
    score: float | None = None
    regex: bool = False
    ignore_case: bool = False
    cased: bool = False
    expand: bool = False
    suffixes: bool = False
    applied: list[str] = attrs.Factory(list)


class Modifier:
    """Base: ``argument`` is None (a flag), ``"int"`` or ``"number"``."""

    name: ClassVar[str]
    argument: ClassVar[str | None] = None
    text_only: ClassVar[bool] = True

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        """Record the modifier in `spec`, or raise `ModifierError`."""
        raise NotImplementedError

    @staticmethod
    def set_mode(spec: FieldSpec, mode: str) -> None:
        if spec.mode != "any":
            raise ModifierError(f"'{mode}' cannot be combined with '{spec.mode}'; choose one")
        spec.mode = mode


class AllModifier(Modifier):
    """Every listed value must occur (default: any one)."""

    name = "all"
    text_only = False

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        self.set_mode(spec, "all")


class NearModifier(Modifier):
    """All listed values within N words of each other, in any order."""

    name = "near"
    argument = "int"

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        self.set_mode(spec, self.name)
        spec.window = int(arg or 0)


class OrderedNearModifier(NearModifier):
    """All listed values within N words, in the listed order."""

    name = "onear"


class SentenceModifier(Modifier):
    """All listed values in one sentence."""

    name = "sentence"

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        self.set_mode(spec, "sentence")


class MinModifier(Modifier):
    """The values occur at least N times in all (per value with ``all``)."""

    name = "min"
    argument = "int"

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        spec.min_count = int(arg or 0)


class ScoreModifier(Modifier):
    """The values map terms to weights; the sum of the weights present must reach T."""

    name = "score"
    argument = "number"

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        self.set_mode(spec, "score")
        spec.score = float(arg or 0.0)


class RegexModifier(Modifier):
    """The values are RE2 regular expressions, searched in the original text."""

    name = "re"
    text_only = False

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        spec.regex = True


class IgnoreCaseModifier(Modifier):
    """With ``re``: match without regard to case."""

    name = "i"
    text_only = False

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        spec.ignore_case = True


class CasedModifier(Modifier):
    """Letter case must match as written (diacritics and punctuation still folded)."""

    name = "cased"
    text_only = False

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        spec.cased = True


class ExpandModifier(Modifier):
    """``%name%`` stands for every term of lexicon ``name``."""

    name = "expand"
    text_only = False

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        spec.expand = True


class SuffixesModifier(Modifier):
    """Arabic words may also end with an attached pronoun (قواتها، قاعدتهم)."""

    name = "suffixes"

    def apply(self, spec: FieldSpec, arg: float | None) -> None:
        spec.suffixes = True


MODIFIERS: dict[str, type[Modifier]] = {
    cls.name: cls
    for cls in (
        AllModifier,
        CasedModifier,
        ExpandModifier,
        IgnoreCaseModifier,
        MinModifier,
        NearModifier,
        OrderedNearModifier,
        RegexModifier,
        ScoreModifier,
        SentenceModifier,
        SuffixesModifier,
    )
}


def check_spec(spec: FieldSpec) -> None:
    """Refuse combinations that have no meaning; called after every modifier was applied."""
    if spec.ignore_case and not spec.regex:
        raise ModifierError("'i' only applies to regular expressions: write '|re|i'")
    if spec.regex:
        for other, bad in (
            ("near/onear/sentence/score", spec.mode not in ("any", "all")),
            ("expand", spec.expand),
            ("cased", spec.cased),
            ("min", spec.min_count != 1),
            ("suffixes", spec.suffixes),
        ):
            if bad:
                raise ModifierError(
                    f"'re' cannot be combined with {other}; a regex already says exactly "
                    "what it matches"
                )
    if spec.mode not in ("any", "all") and spec.min_count != 1:
        raise ModifierError(
            f"'min' cannot be combined with '{spec.mode}'; it counts "
            "occurrences of any (or, with 'all', each) listed value"
        )
    if spec.window is not None and spec.window < 1:
        raise ModifierError("near/onear need a window of at least 1 word, e.g. near=10")
    if spec.min_count < 1:
        raise ModifierError("min needs a count of at least 1, e.g. min=2")
