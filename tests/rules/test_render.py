"""Annotation templates: checked at load, rendered safely."""

from __future__ import annotations

from monitor.rules._render import check_template, render


def test_render_dotted_names():
    """Placeholders are replaced from the context; lists are joined; missing is empty."""
    context = {"item": {"title": "Convoy"}, "entities": ["place:a", "actor:b"], "labels": {}}
    assert render("{{ item.title }} / {{entities}} / {{ labels.x }}", context) == (
        "Convoy / place:a, actor:b / "
    )


def test_long_values_are_cut():
    """A huge value renders as at most 300 characters."""
    assert len(render("{{ item.content }}", {"item": {"content": "x" * 5000}})) == 300


def test_no_code_runs():
    """Anything but a dotted name is not a placeholder and is reported at load."""
    assert check_template("{{ item.__class__ }}") is not None
    assert check_template("{{ 1 + 1 }}") is not None
    assert render("{{ 1 + 1 }}", {}) == "{{ 1 + 1 }}"


def test_check_template():
    """Known placeholders pass, unknown ones name the choices."""
    assert check_template("{{ item.title }} {{ rule.level }} {{ labels.any }}") is None
    message = check_template("{{ item.titel }}")
    assert message is not None and "item.<field>" in message
