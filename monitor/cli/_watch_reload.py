"""Re-reading monitor.yaml when the watcher reloads (SIGHUP, or an edit of the file).

The watcher already reloads the feed list, the rule folders and the sinks file it was started
with. With a configuration file, an operator also expects an edit that *names other ones*
(``watch: {feeds: other.yaml}``) to take effect on SIGHUP, the way Prometheus re-reads its
configuration. `ConfigReload` re-reads the file, and for each of the watch options that can
change while running (``feeds``, ``rules``, ``sinks``) whose value came from the file or the
built-in default, returns the new value when it differs. A value given as a flag or an
environment variable still wins, as it did at start. Everything else in the file (the log,
workers, metrics address, checkpoint options, log level) needs a restart, and a reload that
changed one of those says so.
"""

from __future__ import annotations

import logging
from typing import Any

import click
from click.core import ParameterSource

from ._config import META_KEY, LoadedConfig, config_options_of, read_config

__all__ = ["ConfigReload"]

_log = logging.getLogger("monitor.watch")

#: Watch options a reload applies (by parameter name).
RELOADABLE = ("feeds_path", "rules", "sinks")


class ConfigReload:
    """The watch command's view of monitor.yaml across reloads."""

    def __init__(self, ctx: click.Context) -> None:
        self._ctx = ctx
        root = ctx.find_root()
        loaded: LoadedConfig | None = root.meta.get(META_KEY)
        self.path = loaded.path if loaded is not None else None
        self._root = root.command
        self._loaded = loaded
        self._options = {
            option.name: (key, option) for key, option in config_options_of(ctx.command).items()
        }
        self.current: dict[str, Any] = {name: ctx.params.get(name) for name in RELOADABLE}

    def _from_file(self, name: str) -> bool:
        source = self._ctx.get_parameter_source(name)
        return source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)

    def changes(self) -> dict[str, Any]:
        """Re-read the file; the reloadable options whose value it changed ({} when there is no
        file, it does not load, or nothing changed). Never raises: a broken edit is logged and
        the running values are kept."""
        if self.path is None:
            return {}
        new = read_config(self.path, self._root)
        if new.errors:
            _log.error(
                "%s not reloaded, keeping the running configuration: %s", self.path, new.errors[0]
            )
            return {}
        path = tuple(self._ctx.command_path.split()[1:])
        changed: dict[str, Any] = {}
        for name, (key, option) in self._options.items():
            entry = new.for_option(path, key)
            before = self._loaded.for_option(path, key) if self._loaded else None
            if name not in RELOADABLE:
                if (entry and entry.value) != (before and before.value) and self._from_file(name):
                    _log.warning(
                        "%s: '%s' changed; it takes effect at the next start", self.path, key
                    )
                continue
            if not self._from_file(name):
                continue
            raw = entry.value if entry is not None else option.default
            try:
                value = option.type_cast_value(self._ctx, raw) if raw is not None else None
            except Exception as exc:  # a file the new value names is missing, say
                _log.error("%s: '%s' not reloaded: %s", self.path, key, exc)
                continue
            if value != self.current[name]:
                changed[name] = value
                self.current[name] = value
                _log.info("%s: '%s' is now %s", self.path, key, value)
        self._loaded = new
        return changed
