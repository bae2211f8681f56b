"""`monitor watch --checkpoint-key PRIV --checkpoint-out FILE`: sign the log's head on a schedule.

The watcher runs a `CheckpointWriter` as a housekeeping job every ``--checkpoint-every`` (and
once more when it stops, and at the end of ``--once``), so an operator gets signed heads
without a separate cron job. The writer signs only when the head moved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import click

from .._durations import parse_duration
from ..log import CheckpointWriter, EventLog, default_origin, load_private_key
from ._options import Duration, InputFile

__all__ = ["checkpoint_options", "checkpoint_task"]

_log = logging.getLogger("monitor.watch")


_EVERY = Duration(minimum=1, hint="sign at most once a second (for example 15m or 1h)")


def _duration(value: str | float) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--checkpoint-every") from None
    if seconds < 1:
        raise click.BadParameter(_EVERY.hint, param_hint="--checkpoint-every")
    return seconds


def checkpoint_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --checkpoint-key, --checkpoint-out, --checkpoint-append and --checkpoint-every."""
    options = [
        click.option(
            "--checkpoint-key",
            type=InputFile("checkpoint key"),
            default=None,
            help="Sign the log's head with this private key (from `monitor keygen`).",
        ),
        click.option(
            "--checkpoint-out",
            type=click.Path(dir_okay=False),
            default=None,
            help="Write the signed checkpoint to this file (atomically, each time).",
        ),
        click.option(
            "--checkpoint-append",
            is_flag=True,
            help="Also store each checkpoint in the log (CheckpointSigned).",
        ),
        click.option(
            "--checkpoint-every",
            default="1h",
            show_default=True,
            type=_EVERY,
            metavar="DURATION",
            help="How often to sign (90s, 15m, 1h, 1d); also once when the watcher stops.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def checkpoint_task(
    log: EventLog,
    *,
    key: str | None,
    out: str | None,
    append: bool,
    every: str | float,
) -> tuple[str, float, Callable[[], object]] | None:
    """The housekeeping job for the watcher, or None when no key is given.

    Raises click.UsageError when the options do not fit together, and the key loader's
    ConfigError for a key file that cannot be used (before any feed is polled).
    """
    if key is None:
        if out is not None or append:
            raise click.UsageError("--checkpoint-out and --checkpoint-append need --checkpoint-key")
        return None
    if out is None and not append:
        raise click.UsageError(
            "--checkpoint-key needs --checkpoint-out FILE, --checkpoint-append, or both"
        )
    seconds = _duration(every)
    writer = CheckpointWriter(
        load_private_key(key), out, origin=default_origin(log), append_to_log=append
    )

    def sign() -> object:
        signed = writer.write(log)
        _log.info("checkpoint signed at position %d", signed.position)
        return signed

    return ("checkpoint", seconds, sign)
