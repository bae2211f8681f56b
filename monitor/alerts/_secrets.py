"""Where a sink's secret comes from: written inline, an environment variable, or a file.

A secret written into a sinks file travels with every copy of that file (backups, repositories,
support tickets), so each secret setting has two companions: ``<name>_env`` names an environment
variable and ``<name>_file`` a file (relative to the sinks file; one trailing newline dropped),
the way systemd credentials and Docker/Kubernetes secrets hand them over. At most one of the
three may be given. The secret is read when it is needed, so a rotated file is picked up
without a restart.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SinkError

__all__ = ["SECRET_SETTINGS", "read_sink_secret", "secret_source"]

#: Sink settings that hold a secret, each with ``_env`` and ``_file`` companions.
SECRET_SETTINGS = ("password", "secret")


def secret_source(inline: str | None, env: str | None, file: str | None, name: str) -> None:
    """Raise ValueError when more than one of `name`, `name`_env and `name`_file is given."""
    given = [k for k, v in ((name, inline), (f"{name}_env", env), (f"{name}_file", file)) if v]
    if len(given) > 1:
        raise ValueError(f"give only one of {', '.join(repr(k) for k in given)}")


def read_sink_secret(
    sink: str, name: str, inline: str | None, env: str | None, file: str | None
) -> str | None:
    """The secret `name` of sink `sink`, or None when none is configured.

    Raises:
        SinkError: the variable is not set or empty, or the file cannot be read or is empty.
            The message names the variable or the file, never the secret.
    """
    if inline is not None:
        return inline
    if env:
        value = os.environ.get(env)
        if not value:
            raise SinkError(f"{sink}: environment variable {env} is not set or is empty")
        return value
    if file:
        try:
            value = Path(file).expanduser().read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SinkError(f"{sink}: {name} file {file} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise SinkError(f"{sink}: cannot read {name} file {file}: {reason}") from None
        value = value.removesuffix("\n").removesuffix("\r")
        if not value:
            raise SinkError(f"{sink}: {name} file {file} is empty")
        return value
    return None
