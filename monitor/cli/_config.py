"""``monitor.yaml``: one file for every command's options, an environment variable for each key.

The file mirrors the command line. Top-level keys are the group's options (``db``), ``log``
(``level``, ``format``), the shared keys (``feeds``, ``rules``, ``sinks``: every command with
that option takes them) and one mapping per command, holding that command's long options with
``-`` written ``_``; a group nests its subcommands::

    db: /var/lib/monitor/news.db
    log: {level: info, format: json}
    rules: [default, rules/]
    watch: {workers: 8, checkpoint_every: 15m}
    feeds: {status: {feeds: feeds.yaml}}

Every option also reads an environment variable, ``MONITOR_`` + the command path + the key in
upper case (``MONITOR_WATCH_WORKERS``, ``MONITOR_FEEDS_STATUS_FEEDS``); a shared key's command
also reads ``MONITOR_<KEY>`` (``MONITOR_RULES``) after its own. The group's are ``MONITOR_DB``,
``MONITOR_LOG_LEVEL``, ``MONITOR_LOG_FORMAT`` and ``MONITOR_CONFIG``.

Precedence is click's own: a flag, then the environment, then ``Context.default_map``, then the
option's default. `configure` (called by the group callback, before any subcommand's context
exists) turns the file into the default map, so options other modules add are configurable
without this module knowing them. The group's own options are parsed before the callback runs,
so `configure` applies the file to them itself, only when click reports their source as DEFAULT.

Relative paths in the file are relative to the file's folder; in flags and the environment, to
the working directory. The file is read with locations (`read_config`), so each mistake is a
`ConfigError` at file:line:column.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import click

from .._durations import parse_duration
from .._files import MiB
from .._yaml_marked import Marked, MarkedList, loc, read_marked
from ..errors import ConfigError, SourceLocation
from ._options import InputFile

__all__ = [
    "CONFIG_ENV",
    "LoadedConfig",
    "Setting",
    "config_options",
    "configure",
    "effective_settings",
    "read_config",
]

CONFIG_ENV = "MONITOR_CONFIG"
IMPLICIT_CONFIG = Path("monitor.yaml")
SHARED_KEYS = ("feeds", "rules", "sinks")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")
MAX_CONFIG_BYTES = 1 * MiB
META_KEY = "monitor.config"

# Options that are not configuration: the group's own are read by `configure`.
_NOT_CONFIG = {"help", "version", "config", "verbose", "quiet", "log_level", "log_format"}
_PATH_KEYS = {"db", "feeds", "rules", "sinks"}
_SECRET_WORDS = re.compile(r"password|secret|token|api_key", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def config_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --config, --log-level and --log-format to the `monitor` group."""
    options = [
        click.option(
            "--config",
            type=click.Path(dir_okay=False),
            envvar=CONFIG_ENV,
            default=None,
            help="Configuration file [default: ./monitor.yaml if present] (env MONITOR_CONFIG).",
        ),
        click.option(
            "--log-level",
            type=click.Choice(LOG_LEVELS, case_sensitive=False),
            envvar="MONITOR_LOG_LEVEL",
            default=None,
            help="Log level [default: warning; -v wins] (env MONITOR_LOG_LEVEL).",
        ),
        click.option(
            "--log-format",
            type=click.Choice(LOG_FORMATS, case_sensitive=False),
            envvar="MONITOR_LOG_FORMAT",
            default=None,
            help="Log lines as text or JSON [default: text] (env MONITOR_LOG_FORMAT).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


# --- the command tree ---------------------------------------------------------------------------


def option_key(option: click.Option) -> str:
    """The file key of `option`: its first long name without dashes, ``-`` written ``_``."""
    for opt in option.opts:
        if opt.startswith("--"):
            return opt[2:].replace("-", "_")
    return str(option.name)


def config_options_of(command: click.Command) -> dict[str, click.Option]:
    """The options of `command` that the file and the environment may set, by file key."""
    result: dict[str, click.Option] = {}
    for param in command.params:
        if isinstance(param, click.Option) and not param.is_eager and param.name:
            key = option_key(param)
            if key not in _NOT_CONFIG and param.name not in _NOT_CONFIG:
                result[key] = param
    return result


def walk(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every subcommand under `group` with its path of names, depth first, sorted."""
    for name in sorted(group.commands):
        command = group.commands[name]
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))


def env_names(path: tuple[str, ...], key: str) -> list[str]:
    """The environment variables of option `key` of the command at `path`, first wins."""
    names = ["_".join(("MONITOR", *path, key)).upper().replace("-", "_")]
    if path and key in SHARED_KEYS:
        names.append(f"MONITOR_{key.upper()}")
    return names


def assign_envvars(root: click.Group) -> None:
    """Give every configurable option without an `envvar` of its own its `env_names`.

    Idempotent; called from the group callback, so commands registered by any module are
    covered (a subcommand's options are parsed after the callback).
    """
    for path, command in walk(root):
        for key, option in config_options_of(command).items():
            if option.envvar is None:
                option.envvar = env_names(path, key)


# --- reading the file ---------------------------------------------------------------------------


@attrs.frozen
class Entry:
    """One value the file sets: its key path (``("watch", "workers")``) and where it is."""

    path: tuple[str, ...]
    value: Any
    where: SourceLocation


@attrs.define
class LoadedConfig:
    """A configuration file read and checked against the command tree.

    `entries` holds every value that passed (relative paths resolved against the file's
    folder); `errors` and `warnings` every fault, in file order, each with its location.
    """

    path: str | None
    entries: dict[tuple[str, ...], Entry] = attrs.field(factory=dict)
    errors: list[ConfigError] = attrs.field(factory=list)
    warnings: list[ConfigError] = attrs.field(factory=list)

    def value(self, *path: str) -> Entry | None:
        """The entry at `path`, or None."""
        return self.entries.get(path)

    def for_option(self, path: tuple[str, ...], key: str) -> Entry | None:
        """The entry command `path` takes for option `key`: its own, else the shared one."""
        own = self.entries.get((*path, key))
        if own is None and key in SHARED_KEYS:
            own = self.entries.get((key,))
        return own

    def default_map(self, root: click.Group) -> dict[str, Any]:
        """Click's `default_map` for `root`'s subcommands (option names, not file keys)."""
        result: dict[str, Any] = {}
        for path, command in walk(root):
            for key, option in config_options_of(command).items():
                entry = self.for_option(path, key)
                if entry is not None:
                    node = result
                    for name in path:
                        node = node.setdefault(name, {})
                    node[option.name] = entry.value
        return result


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; expected one of: {', '.join(sorted(choices))}"


def _is_local_path(value: str) -> bool:
    return bool(value) and value != "default" and not _SCHEME.match(value)


def _resolve(value: Any, base: Path) -> Any:
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    if isinstance(value, str) and _is_local_path(value):
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else base / path)
    return value


class _Reader:
    """Walks the document against the command tree, collecting entries and faults."""

    def __init__(self, root: click.Group, path: Path, result: LoadedConfig) -> None:
        self.root = root
        self.base = path.parent
        self.name = str(path)
        self.result = result

    def where(self, mapping: Marked, key: str, *, of_key: bool = False) -> SourceLocation:
        marks = mapping.key_marks if of_key else mapping.marks
        return loc(self.name, marks.get(key) or mapping.mark)

    def error(self, message: str, where: SourceLocation) -> None:
        self.result.errors.append(ConfigError(message, source=where))

    def warn(self, message: str, where: SourceLocation) -> None:
        self.result.warnings.append(ConfigError(message, source=where))

    def top(self, doc: object) -> None:
        if doc is None:
            return
        if not isinstance(doc, Marked):
            self.error(
                "the configuration file must be a mapping of keys (db:, log:, watch: ...)",
                loc(self.name, getattr(doc, "mark", None)),
            )
            return
        group_options = config_options_of(self.root)
        shared = {
            key: option
            for _path, command in walk(self.root)
            for key, option in config_options_of(command).items()
            if key in SHARED_KEYS
        }
        choices = ["log", *group_options, *shared, *self.root.commands]
        for key, value in doc.items():
            if key == "log":
                self.log(doc, value)
            elif key in self.root.commands and isinstance(value, Marked):
                self.section(doc, (key,), self.root.commands[key], value)
            elif key in group_options:
                self.option(doc, key, (key,), group_options[key], value)
            elif key in shared:
                self.option(doc, key, (key,), shared[key], value)
            elif key in self.root.commands:
                self.error(
                    f"{key!r} holds the options of `monitor {key}`: write a mapping "
                    f"({key}: {{option: value}})",
                    self.where(doc, key),
                )
            else:
                self.error(
                    f"unknown key {key!r}" + _suggest(key, choices),
                    self.where(doc, key, of_key=True),
                )

    def log(self, doc: Marked, value: object) -> None:
        if not isinstance(value, Marked):
            self.error(
                "'log' is a mapping: log: {level: info, format: text}", self.where(doc, "log")
            )
            return
        for key, item in value.items():
            where = self.where(value, key)
            allowed = {"level": LOG_LEVELS, "format": LOG_FORMATS}.get(key)
            if allowed is None:
                self.error(
                    f"unknown key 'log.{key}'" + _suggest(key, ["level", "format"]),
                    self.where(value, key, of_key=True),
                )
            elif not isinstance(item, str) or item.lower() not in allowed:
                self.error(f"log.{key} is one of {', '.join(allowed)}, not {item!r}", where)
            else:
                self.result.entries[("log", key)] = Entry(("log", key), item.lower(), where)

    def section(
        self, parent: Marked, path: tuple[str, ...], command: click.Command, value: Marked
    ) -> None:
        options = config_options_of(command)
        subcommands = command.commands if isinstance(command, click.Group) else {}
        dotted = ".".join(path)
        for key, item in value.items():
            if key in subcommands and isinstance(item, Marked):
                self.section(value, (*path, key), subcommands[key], item)
            elif key in options:
                self.option(value, key, (*path, key), options[key], item)
            elif key in subcommands:
                self.error(
                    f"'{dotted}.{key}' holds the options of `monitor {' '.join(path)} {key}`: "
                    "write a mapping",
                    self.where(value, key),
                )
            else:
                what = f"`monitor {' '.join(path)}` has no option --{key.replace('_', '-')}"
                self.error(
                    f"unknown key '{dotted}.{key}': {what}"
                    + _suggest(key, [*options, *subcommands]),
                    self.where(value, key, of_key=True),
                )

    def option(
        self,
        mapping: Marked,
        key: str,
        path: tuple[str, ...],
        option: click.Option,
        value: object,
    ) -> None:
        where = self.where(mapping, key)
        dotted = ".".join(path)
        if value is None:
            self.error(f"{dotted} has no value; give one or remove the key", where)
            return
        if isinstance(value, Marked):
            self.error(f"{dotted} takes a value, not a mapping", where)
            return
        if isinstance(value, MarkedList):
            if not option.multiple:
                self.error(f"{dotted} takes one value, not a list", where)
                return
            if any(isinstance(v, Marked | MarkedList) or v is None for v in value):
                self.error(f"{dotted} is a list of plain values", where)
                return
            value = list(value)
        elif option.multiple:
            value = [value]
        if option.is_flag and not isinstance(value, bool):
            self.error(f"{dotted} is true or false, not {value!r}", where)
            return
        if isinstance(option.type, click.Path) or key in _PATH_KEYS:
            value = _resolve(value, self.base)
        try:
            if not isinstance(option.type, InputFile):  # a file is checked by its command
                option.type_cast_value(click.Context(self.root), value)
            if option.metavar == "DURATION":
                parse_duration(value)
        except click.BadParameter as exc:
            self.error(f"{dotted}: {exc.message}", where)
            return
        except ValueError as exc:
            self.error(f"{dotted}: {exc}", where)
            return
        if _SECRET_WORDS.search(key) and not key.endswith(("_env", "_file")):
            self.warn(
                f"{dotted} is a secret written in the configuration file; give it in the "
                f"environment ({env_names(path[:-1], key)[0]}) instead",
                where,
            )
        if key == "db" and isinstance(value, str) and _url_password(value):
            self.warn(
                "the database password is written in the configuration file; give the URL in "
                "MONITOR_DB, or the password in PGPASSWORD or a ~/.pgpass file (PGPASSFILE)",
                where,
            )
        self.result.entries[path] = Entry(path, value, where)


def _url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password if "://" in value else None
    except ValueError:
        return None


def read_config(path: str | os.PathLike[str], root: click.Group) -> LoadedConfig:
    """Read the configuration file at `path` against `root`'s commands, collecting every
    fault (never raises for the file's content)."""
    result = LoadedConfig(str(path))
    try:
        doc = read_marked(Path(path), what="configuration file", limit=MAX_CONFIG_BYTES)
    except ConfigError as exc:
        result.errors.append(exc)
        return result
    _Reader(root, Path(path), result).top(doc)
    return result


def config_path(given: str | None) -> str | None:
    """The configuration file in use: --config / MONITOR_CONFIG, else ./monitor.yaml if
    present, else None."""
    if given:
        return given
    return str(IMPLICIT_CONFIG) if IMPLICIT_CONFIG.is_file() else None


# --- applying it --------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: time (UTC), level, logger, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup_logging(level: int, fmt: str) -> None:
    """Log to stderr at `level` as text or JSON lines.

    Like `logging.basicConfig`, it leaves a root logger configured by someone else (an
    embedding program, pytest) alone; a handler it installed itself is replaced.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_monitor_cli", False)]
    if root.handlers and not ours:
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._monitor_cli = True  # type: ignore[attr-defined]
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def configure(
    ctx: click.Context,
    *,
    db: str,
    verbose: int,
    quiet: bool = False,
    config: str | None,
    log_level: str | None,
    log_format: str | None,
) -> tuple[str, int]:
    """Read the configuration file, set `ctx.default_map`, set up logging.

    Returns the database to use and the verbosity for `CliContext` (1 when a log level was
    configured, so the watcher leaves the levels alone). Raises the file's first ConfigError,
    except under `monitor config`, whose commands report every fault themselves. `quiet`
    (``-q``) logs errors only, whatever level is configured.
    """
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose do not go together")
    assert isinstance(ctx.command, click.Group)
    assign_envvars(ctx.command)
    path = config_path(config)
    loaded = read_config(path, ctx.command) if path else LoadedConfig(None)
    ctx.meta[META_KEY] = loaded
    lenient = ctx.invoked_subcommand == "config"
    if loaded.errors and not lenient:
        raise loaded.errors[0]
    if loaded.entries:
        ctx.default_map = {**(ctx.default_map or {}), **loaded.default_map(ctx.command)}
    source = ctx.get_parameter_source("db")
    entry = loaded.value("db")
    if entry is not None and source == click.core.ParameterSource.DEFAULT:
        db = str(entry.value)
    level_name = log_level or _entry_value(loaded, "log", "level")
    fmt = (log_format or _entry_value(loaded, "log", "format") or "text").lower()
    if quiet:
        level = logging.ERROR
    elif verbose:
        level = logging.WARNING - 10 * min(verbose, 2)
    else:
        level = getattr(logging, (level_name or "warning").upper())
        if level_name:
            verbose = 1
    setup_logging(level, fmt)
    return db, verbose


def _entry_value(loaded: LoadedConfig, *path: str) -> Any:
    entry = loaded.value(*path)
    return None if entry is None else entry.value


# --- the effective configuration ----------------------------------------------------------------


@attrs.frozen
class Setting:
    """One effective value and where it came from: flag, env, file or default."""

    key: str
    value: Any
    source: str
    where: str = ""

    def to_json(self) -> dict[str, Any]:
        """The setting as JSON (the value already masked)."""
        return {"key": self.key, "value": self.value, "source": self.source, "where": self.where}


def mask(key: str, value: Any) -> Any:
    """`value` fit to print: secrets replaced by ``****``, URL passwords too."""
    if value is None:
        return None
    if _SECRET_WORDS.search(key) and not key.endswith(("_env", "_file")):
        return "****"
    if isinstance(value, list | tuple):
        return [mask(key, v) for v in value]
    if isinstance(value, str) and _url_password(value):
        parts = urlsplit(value)
        host = parts.netloc.rpartition("@")[2]
        return parts._replace(netloc=f"{parts.username or ''}:****@{host}").geturl()
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if type(value).__name__ == "Sentinel" or callable(value):
        return None
    return value


def effective_settings(
    ctx: click.Context, *, everything: bool = False
) -> tuple[list[Setting], list[tuple[str, str]]]:
    """Every setting of the group and `watch` (all commands with `everything`; others only
    when the file or the environment sets them), masked, with its source.

    Returns the settings and the invalid environment values as (variable, message).
    """
    root = ctx.find_root()
    group = root.command
    assert isinstance(group, click.Group)
    loaded: LoadedConfig = root.meta.get(META_KEY) or LoadedConfig(None)
    settings: list[Setting] = []
    bad_env: list[tuple[str, str]] = []

    def group_setting(key: str, param: str, env: str, default: Any, *path: str) -> None:
        source = root.get_parameter_source(param)
        entry = loaded.value(*(path or (key,)))
        value = root.params.get(param)
        if source == click.core.ParameterSource.COMMANDLINE:
            settings.append(Setting(key, mask(key, value), "flag", f"--{param.replace('_', '-')}"))
        elif source == click.core.ParameterSource.ENVIRONMENT:
            settings.append(Setting(key, mask(key, value), "env", env))
        elif entry is not None:
            settings.append(Setting(key, mask(key, entry.value), "file", str(entry.where)))
        else:
            settings.append(Setting(key, default, "default"))

    group_setting("db", "db", "MONITOR_DB", "monitor.db")
    group_setting("log.level", "log_level", "MONITOR_LOG_LEVEL", "warning", "log", "level")
    group_setting("log.format", "log_format", "MONITOR_LOG_FORMAT", "text", "log", "format")
    for path, command in walk(group):
        probe = click.Context(command, parent=root, info_name=path[-1])
        for key, option in config_options_of(command).items():
            dotted = ".".join((*path, key))
            names = option.envvar if isinstance(option.envvar, list) else [option.envvar]
            env = next((n for n in names if n and os.environ.get(n)), None)
            entry = loaded.for_option(path, key)
            if env is not None:
                raw = os.environ[env]
                try:
                    if not isinstance(option.type, InputFile):  # checked by its command
                        option.type_cast_value(probe, option.value_from_envvar(probe))
                except click.BadParameter as exc:
                    bad_env.append((env, f"{dotted}: {exc.message}"))
                settings.append(Setting(dotted, mask(key, raw), "env", env))
            elif entry is not None:
                shown = mask(key, entry.value)
                settings.append(Setting(dotted, shown, "file", str(entry.where)))
            elif everything or path == ("watch",):
                default = _plain(option.default)
                if option.is_flag and default is None:
                    default = False
                settings.append(Setting(dotted, default, "default"))
    return settings, bad_env
