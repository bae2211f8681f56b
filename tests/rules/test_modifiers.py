"""The modifier registry."""

from __future__ import annotations

import pytest

from monitor.rules import MODIFIERS
from monitor.rules._modifiers import FieldSpec, ModifierError, check_spec


def test_registry_holds_every_documented_modifier():
    """Every modifier of the rule language is registered under its name."""
    assert sorted(MODIFIERS) == sorted(
        [
            "all",
            "near",
            "onear",
            "sentence",
            "min",
            "score",
            "re",
            "i",
            "cased",
            "expand",
            "suffixes",
        ]
    )
    for name, cls in MODIFIERS.items():
        assert cls.name == name and cls.__doc__


def test_apply_sets_the_spec():
    """Applying near=5 sets mode and window."""
    spec = FieldSpec(field="text", keyword=False)
    MODIFIERS["near"]().apply(spec, 5)
    assert (spec.mode, spec.window) == ("near", 5)
    with pytest.raises(ModifierError, match="cannot be combined"):
        MODIFIERS["all"]().apply(spec, None)


def test_check_spec_refuses_meaningless_combinations():
    """i without re is refused."""
    spec = FieldSpec(field="text", keyword=False, ignore_case=True)
    with pytest.raises(ModifierError, match="re"):
        check_spec(spec)
