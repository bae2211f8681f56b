"""``monitor config check [FILE]`` and ``monitor config show``: the configuration file's commands.

`check` is to ``monitor.yaml`` what ``promtool check config`` is to Prometheus: it reads the
file against the command tree, then loads every file it names (feed lists, rule folders, sinks
files, the checkpoint key) the way the commands would, and reports each fault at its own
file:line:column. `show` prints the effective configuration and where each value came from.

Exit codes follow `monitor.cli._main`: 0 fine, 4 errors in the file or in a file it names.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import attrs
import click
from rich.markup import escape
from rich.table import Table

from ..alerts import SECRET_SETTINGS, load_sinks, read_sink_secret, shown_url
from ..errors import ConfigError, MonitorError, SinkError, SourceLocation
from ..feeds import load_feeds
from ..rules import check_rules
from ._config import (
    CONFIG_ENV,
    META_KEY,
    LoadedConfig,
    config_path,
    effective_settings,
    read_config,
)
from ._context import EXIT_INPUT
from ._options import InputFile
from ._render import console, is_quiet

__all__ = ["register"]


@click.group("config")
def config_group() -> None:
    """Check and show the configuration file (monitor.yaml) and the environment."""


def _named_values(settings: list[Any], key: str) -> list[tuple[str, str]]:
    """(value, where it was set) for every configured (file or env) setting ending in `key`."""
    seen: dict[str, str] = {}
    for setting in settings:
        if setting.source in ("file", "env", "flag") and setting.key.split(".")[-1] == key:
            values = setting.value if isinstance(setting.value, list) else [setting.value]
            if setting.source == "env" and isinstance(setting.value, str):
                values = setting.value.split()  # click splits list variables on whitespace
            for value in values:
                if isinstance(value, str):
                    by = "at" if setting.source == "file" else "by"
                    seen.setdefault(value, f"{by} {setting.where}")
    return list(seen.items())


def _named_by(error: MonitorError, named: str) -> MonitorError:
    """`error` about a whole file (no line) also says which setting named that file."""
    source = getattr(error, "source", None)
    message = getattr(error, "message", None)
    if message is not None and (source is None or source.line is None):
        return ConfigError(f"{message} (named {named})", source=source)
    return error


def _deep_check(settings: list[Any]) -> tuple[list[MonitorError], list[MonitorError]]:
    """Load every feed list, rule folder, sinks file and key the settings name."""
    errors: list[MonitorError] = []
    warnings: list[MonitorError] = []
    for path, named in _named_values(settings, "feeds"):
        try:
            feedlist = load_feeds(path)
        except ConfigError as exc:
            errors.append(_named_by(exc, named))
            continue
        for feed in feedlist.feeds:
            auth = getattr(feed, "auth", None)
            if auth is not None and not auth.source:
                warnings.append(
                    ConfigError(
                        f"feed {feed.id!r} has its password in its URL; give it in `auth:` "
                        "with password_env or password_file",
                        source=SourceLocation(path),
                    )
                )
    for path, named in _named_values(settings, "rules"):
        folder = path
        if path == "default":
            try:
                from ..rules import default_pack_path  # type: ignore[attr-defined]

                folder = str(default_pack_path())
            except (ImportError, FileNotFoundError):
                continue
        report = check_rules(folder)
        errors.extend(_named_by(e, named) for e in report.errors)
        warnings.extend(report.warnings)
    for path, named in _named_values(settings, "sinks"):
        try:
            sinks = load_sinks(path, console_write=lambda _line: None)
        except ConfigError as exc:
            errors.append(_named_by(exc, named))
            continue
        for sink in sinks:
            _check_sink_secrets(sink, path, errors, warnings)
            sink.close()
    for path, _key in _named_values(settings, "checkpoint_key"):
        from ..log import load_private_key

        try:
            load_private_key(path)
        except (ConfigError, OSError, ValueError) as exc:
            errors.append(exc if isinstance(exc, MonitorError) else ConfigError(str(exc)))
    return errors, warnings


def _check_sink_secrets(
    sink: Any, path: str, errors: list[MonitorError], warnings: list[MonitorError]
) -> None:
    settings = sink.settings
    where = SourceLocation(path)
    for name in SECRET_SETTINGS:
        if not hasattr(settings, f"{name}_env"):
            continue
        inline = getattr(settings, name, None)
        env = getattr(settings, f"{name}_env", None)
        file = getattr(settings, f"{name}_file", None)
        if inline is not None:
            warnings.append(
                ConfigError(
                    f"sink {sink.name!r}: its {name} is written in the sinks file; give it with "
                    f"{name}_env or {name}_file",
                    source=where,
                )
            )
        elif env or file:
            try:
                read_sink_secret(sink.name, name, None, env, file)
            except SinkError as exc:
                errors.append(ConfigError(str(exc), source=where))


def _problem_json(problem: MonitorError) -> dict[str, Any]:
    source = getattr(problem, "source", None)
    return {
        "location": str(source) if source else None,
        "path": source.path if source else None,
        "line": source.line if source else None,
        "column": source.column if source else None,
        "message": getattr(problem, "message", str(problem)),
    }


@config_group.command("check")
@click.argument("file", required=False, type=InputFile("configuration file"))
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.pass_context
def check_command(ctx: click.Context, file: str | None, as_json: bool) -> None:
    """Validate FILE [default: --config, $MONITOR_CONFIG, ./monitor.yaml] and the environment.

    Also loads every feed list, rule folder, sinks file and key it names, and reports their
    faults with their own file:line:column. Exits 0 when everything loads, 4 otherwise.
    """
    root = ctx.find_root()
    group = root.command
    assert isinstance(group, click.Group)
    path = file or config_path(root.params.get("config"))
    if path is None:
        raise ConfigError(
            "no configuration file: give FILE, --config or MONITOR_CONFIG, or create "
            "./monitor.yaml",
            source=SourceLocation("monitor.yaml"),
        )
    loaded = read_config(path, group) if file else root.meta.get(META_KEY)
    assert isinstance(loaded, LoadedConfig)
    root.meta[META_KEY] = loaded
    errors: list[MonitorError] = list(loaded.errors)
    warnings: list[MonitorError] = list(loaded.warnings)
    settings, bad_env = effective_settings(ctx, everything=True)
    for variable, message in bad_env:
        errors.append(ConfigError(message, source=SourceLocation(f"${variable}")))
    if not any(isinstance(e, ConfigError) and "not found" in e.message for e in loaded.errors):
        deep_errors, deep_warnings = _deep_check(settings)
        errors += deep_errors
        warnings += deep_warnings
    if as_json:
        click.echo(
            json.dumps(
                {
                    "file": path,
                    "ok": not errors,
                    "errors": [_problem_json(e) for e in errors],
                    "warnings": [_problem_json(w) for w in warnings],
                },
                ensure_ascii=False,
            )
        )
    else:
        out = console(soft_wrap=True)
        for error in errors:
            where = getattr(error, "source", None) or path
            message = getattr(error, "message", str(error))
            out.print(f"{escape(str(where))}: [red]error[/]: {escape(message)}")
        for warning in warnings:
            where = getattr(warning, "source", None) or path
            message = getattr(warning, "message", str(warning))
            out.print(f"{escape(str(where))}: [yellow]warning[/]: {escape(message)}")
        if errors:
            out.print(f"[red]{len(errors)} error(s)[/], {len(warnings)} warning(s) in {path}")
        elif not is_quiet():
            out.print(f"[green]OK[/]: {path}, {len(warnings)} warning(s)")
    if errors:
        sys.exit(EXIT_INPUT)


def _sinks_shown(settings: list[Any]) -> list[dict[str, Any]]:
    """The configured sinks files' sinks with their secrets masked and their sources named."""
    shown: list[dict[str, Any]] = []
    for path, _key in _named_values(settings, "sinks"):
        try:
            sinks = load_sinks(path, console_write=lambda _line: None)
        except ConfigError as exc:
            shown.append({"file": path, "error": str(exc)})
            continue
        for sink in sinks:
            values = attrs.asdict(sink.settings, recurse=False)
            row: dict[str, Any] = {"file": path, "name": sink.name, "type": sink.type_name}
            for key, value in values.items():
                if key in ("name",) or value in (None, (), {}):
                    continue
                if key in SECRET_SETTINGS:
                    value = "**** (inline)"
                elif key.endswith("_env") and key[:-4] in SECRET_SETTINGS:
                    state = "set" if os.environ.get(value) else "NOT SET"
                    value = f"**** (env {value}, {state})"
                elif key.endswith("_file") and key[:-5] in SECRET_SETTINGS:
                    state = "readable" if os.access(value, os.R_OK) else "MISSING"
                    value = f"**** (file {value}, {state})"
                elif key == "url":
                    value = shown_url(value)
                elif key == "headers":
                    value = {k: "****" for k in value}
                elif isinstance(value, tuple):
                    value = list(value)
                row[key] = value
            shown.append(row)
            sink.close()
    return shown


@config_group.command("show")
@click.option("--all", "everything", is_flag=True, help="Every command's options, not only watch.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.pass_context
def show_command(ctx: click.Context, everything: bool, as_json: bool) -> None:
    """Print the effective configuration: each value, and where it came from (flag, env
    variable, file:line:column or default). Secrets are masked."""
    loaded: LoadedConfig = ctx.find_root().meta.get(META_KEY) or LoadedConfig(None)
    if loaded.errors:
        raise loaded.errors[0]
    settings, bad_env = effective_settings(ctx, everything=everything)
    sinks = _sinks_shown(settings)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "file": loaded.path,
                    "settings": [s.to_json() for s in settings],
                    "sinks": sinks,
                    "invalid_env": [{"variable": v, "message": m} for v, m in bad_env],
                },
                ensure_ascii=False,
                default=str,
            )
        )
        return
    out = console(soft_wrap=True)
    origin = loaded.path or f"none (no --config, no {CONFIG_ENV}, no ./monitor.yaml)"
    out.print(f"configuration file: {escape(origin)}")
    table = Table(expand=False)
    for column in ("key", "value", "source"):
        table.add_column(column, overflow="fold")
    for s in settings:
        value = s.value if isinstance(s.value, str) else json.dumps(s.value, default=str)
        where = f"{s.source} {s.where}".strip()
        table.add_row(escape(s.key), escape(value), escape(where))
    out.print(table)
    for row in sinks:
        fields = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("file", "name", "type"))
        label = f"sink {row.get('name', '?')} ({row.get('type', 'error')}) from {row['file']}"
        out.print(escape(f"{label}: {fields}"))
    for variable, message in bad_env:
        out.print(f"[red]invalid[/] ${escape(variable)}: {escape(message)}")
    if not Path(loaded.path or ".").exists() and loaded.path:
        out.print("[yellow]the configuration file does not exist[/]")


def register(group: click.Group) -> None:
    """Attach this module's commands to the `monitor` group."""
    group.add_command(config_group)
