"""Sink configuration: a YAML file listing sinks, and the registry of sink types.

```yaml
sinks:
  - name: screen
    type: console
  - name: archive
    type: jsonl
    path: alerts.jsonl
  - name: ops
    type: webhook
    url: https://hooks.example.org/monitor
    secret_env: MONITOR_WEBHOOK_SECRET   # or secret_file: secrets/webhook (relative to this file)
    min_level: high
    group: {by: [rule, place], wait: 30s, interval: 5m}   # digests, as Alertmanager groups
    send_resolved: true                                   # notices when an alert is superseded
```

Secrets (`secret`, `password`) belong in an environment variable (`*_env`) or a file (`*_file`),
not inline; see `monitor.alerts._secrets`.

Every mistake is a `ConfigError` pointing at ``file:line:column`` and saying what to change:
unknown type or setting (with a did-you-mean), a missing required setting, a bad value,
duplicate names.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from typing import Any

import attrs
import yaml

from .._files import FileTooLarge, MiB, read_limited
from .._yaml_guard import check_aliases
from ..errors import ConfigError, SinkError, SourceLocation
from ._email import AppriseSettings, AppriseSink, EmailSettings, EmailSink
from ._sink import ConsoleSettings, ConsoleSink, JsonlSettings, JsonlSink, Sink, SinkSettings
from ._webhook import WebhookSettings, WebhookSink

__all__ = ["SINK_TYPES", "build_sink", "load_sinks", "register_sink"]

# A sinks file is a few lines; refuse anything that could not be one before reading it whole.
MAX_SINKS_FILE_BYTES = 1 * MiB

#: Sink type name -> (sink class, settings class). Extend with `register_sink`.
SINK_TYPES: dict[str, tuple[Callable[..., Sink], type[SinkSettings]]] = {
    "console": (ConsoleSink, ConsoleSettings),
    "jsonl": (JsonlSink, JsonlSettings),
    "webhook": (WebhookSink, WebhookSettings),
    "email": (EmailSink, EmailSettings),
    "apprise": (AppriseSink, AppriseSettings),
}


def register_sink(type_name: str, sink: Callable[..., Sink], settings: type[SinkSettings]) -> None:
    """Make ``type: <type_name>`` usable in sink files."""
    SINK_TYPES[type_name] = (sink, settings)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; expected one of: {', '.join(sorted(choices))}"


def _loc(path: str, node: yaml.Node) -> SourceLocation:
    mark = node.start_mark
    return SourceLocation(path, mark.line + 1, mark.column + 1)


def _value(node: yaml.Node) -> Any:
    """Plain Python value of a YAML node (the safe loader's scalars, lists, mappings)."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def build_sink(
    spec: dict[str, Any],
    *,
    where: Callable[[str | None], SourceLocation] | None = None,
    console_write: Callable[[str], None] | None = None,
) -> Sink:
    """Build one sink from a mapping such as ``{"name": "x", "type": "jsonl", "path": ...}``.

    `where(key)` gives the location of a setting (None: the whole entry) for error messages.
    """
    loc = where or (lambda _key: None)
    kind = spec.get("type")
    if not isinstance(kind, str) or kind not in SINK_TYPES:
        raise ConfigError(
            f"unknown sink type {kind!r}" + _suggest(str(kind), list(SINK_TYPES)),
            source=loc("type" if "type" in spec else None),
        )
    factory, settings_cls = SINK_TYPES[kind]
    allowed = [f.name for f in attrs.fields(settings_cls)]
    options = {k: v for k, v in spec.items() if k != "type"}
    for key in options:
        if key not in allowed:
            raise ConfigError(
                f"unknown setting {key!r} for a {kind} sink" + _suggest(str(key), allowed),
                source=loc(key),
            )
    missing = [
        f.name
        for f in attrs.fields(settings_cls)
        if f.default is attrs.NOTHING and f.name not in options
    ]
    if missing:
        raise ConfigError(
            f"a {kind} sink needs {', '.join(repr(m) for m in missing)}", source=loc(None)
        )
    try:
        settings = settings_cls(**options)
    except (TypeError, ValueError) as exc:
        # Point at the setting the message names, else the one whose value it quotes.
        text = str(exc)
        bad = next((k for k in options if repr(k) in text or f"'{k}'" in text), None)
        bad = bad or next((k for k, v in options.items() if repr(str(v)) in text), None)
        raise ConfigError(f"{kind} sink {options.get('name')!r}: {exc}", source=loc(bad)) from exc
    try:
        if factory is ConsoleSink:
            sink: Sink = ConsoleSink(settings, write=console_write)  # type: ignore[arg-type]
        else:
            sink = factory(settings)
    except SinkError as exc:
        raise ConfigError(str(exc), source=loc(None)) from exc
    if settings.send_resolved and not sink.sends_resolved:
        raise ConfigError(
            f"a {kind} sink cannot send resolved notices; remove 'send_resolved'",
            source=loc("send_resolved"),
        )
    return sink


def load_sinks(
    path: str | os.PathLike[str], *, console_write: Callable[[str], None] | None = None
) -> list[Sink]:
    """Read a sinks YAML file (see the module docstring) and build every sink in it."""
    name = str(path)
    try:
        text = read_limited(path, MAX_SINKS_FILE_BYTES).decode("utf-8")
    except FileTooLarge:
        raise ConfigError(
            f"the sinks file is larger than {MAX_SINKS_FILE_BYTES // MiB} MiB; "
            "check that this is the file you meant",
            source=SourceLocation(name),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the sinks file: {exc}", source=SourceLocation(name)
        ) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        check_aliases(
            root,
            lambda message, mark: ConfigError(
                message, source=SourceLocation(name, mark.line + 1, mark.column + 1)
            ),
        )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            SourceLocation(name, mark.line + 1, mark.column + 1) if mark else SourceLocation(name)
        )
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", source=where) from exc
    if root is None:
        raise ConfigError(
            "the file is empty; write 'sinks:' and a list of sinks", source=SourceLocation(name)
        )
    entries: yaml.Node | None = None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if _value(key) == "sinks":
                entries = value
            else:
                raise ConfigError(
                    f"unknown top-level key {_value(key)!r}; the file holds 'sinks:' only",
                    source=_loc(name, key),
                )
    elif isinstance(root, yaml.SequenceNode):
        entries = root
    if not isinstance(entries, yaml.SequenceNode):
        raise ConfigError(
            "expected 'sinks:' followed by a list of sinks (- name: ..., type: ...)",
            source=_loc(name, entries or root),
        )
    sinks: list[Sink] = []
    seen: dict[str, SourceLocation] = {}
    for entry in entries.value:
        if not isinstance(entry, yaml.MappingNode):
            raise ConfigError(
                "each sink is a mapping with name, type and settings", source=_loc(name, entry)
            )
        keys = {str(_value(k)): (k, v) for k, v in entry.value}
        spec = {k: _value(v) for k, (_kn, v) in keys.items()}
        for key, value in spec.items():  # secret files are relative to the sinks file
            if key.endswith("_file") and isinstance(value, str) and value:
                spec[key] = os.path.join(os.path.dirname(name), os.path.expanduser(value))

        def where(
            key: str | None, keys: dict[str, Any] = keys, entry: yaml.Node = entry
        ) -> SourceLocation:
            if key is not None and key in keys:
                return _loc(name, keys[key][1])
            return _loc(name, entry)

        if not isinstance(spec.get("name"), str) or not spec["name"].strip():
            raise ConfigError(
                "every sink needs a 'name' (used for its checkpoint)", source=where("name")
            )
        if spec["name"] in seen:
            raise ConfigError(
                f"duplicate sink name {spec['name']!r}, first used at {seen[spec['name']]}",
                source=where("name"),
            )
        seen[spec["name"]] = where("name")
        sinks.append(build_sink(spec, where=where, console_write=console_write))
    return sinks
