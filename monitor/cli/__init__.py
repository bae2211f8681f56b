"""The `monitor` command. Nothing in the library imports this package."""

from ._main import cli, main

__all__ = ["cli", "main"]
