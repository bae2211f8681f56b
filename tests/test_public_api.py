"""Every package's public face: `__all__` is sorted, complete and importable."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = [
    "monitor",
    "monitor.alerts",
    "monitor.errors",
    "monitor.events",
    "monitor.feeds",
    "monitor.log",
    "monitor.projections",
    "monitor.rules",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_importable(name):
    """`__all__` is sorted (as ruff sorts it) and every name in it exists."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n)) or exported == sorted(
        exported
    )
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.{attribute} is in __all__ but missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete(name):
    """Every public class or function defined by the package's modules is exported."""
    module = importlib.import_module(name)
    exported = set(module.__all__)
    for attribute, value in vars(module).items():
        if attribute.startswith("_") or inspect.ismodule(value):
            continue
        origin = getattr(value, "__module__", "") or ""
        if (inspect.isclass(value) or inspect.isfunction(value)) and origin.startswith(name):
            assert attribute in exported, f"{name}.{attribute} is public but not in __all__"


def test_core_imports_no_cli_http_or_scheduler():
    """The core (events, log, projections, rules) loads without click, rich, httpx,
    feedparser or apscheduler."""
    import subprocess
    import sys

    code = (
        "import sys; import monitor.events, monitor.log, monitor.projections, monitor.rules; "
        "bad = [m for m in ('click', 'rich', 'httpx', 'feedparser', 'apscheduler') "
        "if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
