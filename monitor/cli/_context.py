"""What every command shares: the exit codes and the group's options (`CliContext`).

Its own module so that command modules import it without importing `_main`, which imports
every command module to register it (that would be an import circle).
"""

from __future__ import annotations

import attrs

__all__ = ["EXIT_INPUT", "EXIT_LOG", "EXIT_PROBLEM", "CliContext"]

#: The command ran and found a problem (see `_main` for every exit code).
EXIT_PROBLEM = 1
#: The log could not be opened or used.
EXIT_LOG = 3
#: An input file is missing, unreadable or wrong.
EXIT_INPUT = 4


@attrs.define
class CliContext:
    """What the group's options give every command."""

    db: str
    verbose: int = 0
    quiet: bool = False
