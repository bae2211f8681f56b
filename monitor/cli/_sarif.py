"""`monitor rules check --sarif FILE`: rule-file errors and warnings as SARIF 2.1.0.

SARIF is what GitHub code scanning and most CI systems read to annotate files, so a broken
rule shows up on the line that broke it. The log has one run; the tool's driver is
``news-monitor`` with its version and two rules, one for errors (the set would not load) and
one for warnings. Each fault is a result with its level, message and one physical location:
the file as a URI relative to the working directory when it is under it (else a ``file:`` URI)
and a region with ``startLine`` (1 when the fault is about the whole file, since GitHub needs
a line) and ``startColumn`` when known.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import RuleError

__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "sarif_log"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_RULES = (
    {
        "id": "rule-file-error",
        "name": "RuleFileError",
        "shortDescription": {"text": "A rule file has an error; the rule set would not load."},
        "defaultConfiguration": {"level": "error"},
    },
    {
        "id": "rule-file-warning",
        "name": "RuleFileWarning",
        "shortDescription": {"text": "A rule file has a warning; the rule set still loads."},
        "defaultConfiguration": {"level": "warning"},
    },
)


def _tool_version() -> str:
    try:
        return version("news-monitor")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"


def artifact_uri(path: str, cwd: str | None = None) -> str:
    """`path` relative to `cwd` (POSIX separators) when it lies under it, else a file URI."""
    absolute = Path(path).resolve()
    base = Path(cwd or os.getcwd()).resolve()
    try:
        return str(PurePosixPath(*absolute.relative_to(base).parts))
    except ValueError:
        return absolute.as_uri()


def _result(problem: RuleError, index: int, level: str, fallback: str) -> dict[str, Any]:
    source = problem.source
    region: dict[str, int] = {"startLine": (source.line if source and source.line else 1)}
    if source is not None and source.line and source.column:
        region["startColumn"] = source.column
    return {
        "ruleId": _RULES[index]["id"],
        "ruleIndex": index,
        "level": level,
        "message": {"text": problem.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(source.path if source else fallback)},
                    "region": region,
                }
            }
        ],
    }


def sarif_log(
    errors: tuple[RuleError, ...] | list[RuleError],
    warnings: tuple[RuleError, ...] | list[RuleError],
    *,
    fallback: str = ".",
) -> dict[str, Any]:
    """The SARIF log of one `rules check`: errors first, then warnings, each in file order.

    `fallback` is the artifact named for a fault without a source (the sources checked).
    """
    results = [_result(e, 0, "error", fallback) for e in errors]
    results += [_result(w, 1, "warning", fallback) for w in warnings]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "news-monitor",
                        "version": _tool_version(),
                        "rules": list(_RULES),
                    }
                },
                "results": results,
            }
        ],
    }
