"""Commands for signed checkpoints: `monitor keygen` and `monitor checkpoint`.

Verifying is `monitor verify --checkpoint FILE --key PUB` (in `_log_cmds`), beside the plain
chain check it extends.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..log import (
    CheckpointVerifyResult,
    CheckpointWriter,
    default_origin,
    generate_keypair,
    load_private_key,
    load_public_key,
    open_log,
    read_checkpoint,
    save_keypair,
    verify_against_checkpoint,
    verify_log_checkpoints,
)
from ._context import CliContext
from ._options import InputFile
from ._render import info

__all__ = ["register", "verify_signed"]

PRIVATE_NAME = "checkpoint.key"
PUBLIC_NAME = "checkpoint.pub"


@click.command()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help=f"Folder for {PRIVATE_NAME} (mode 600) and {PUBLIC_NAME}; created if missing.",
)
def keygen(out: str) -> None:
    """Make an Ed25519 key pair for signing checkpoints.

    Keep the private key away from the log's machine if you can; verifying needs only the
    public key. Existing key files are never overwritten.
    """
    folder = Path(out)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    private, _public = generate_keypair()
    save_keypair(private, folder / PRIVATE_NAME, folder / PUBLIC_NAME)
    info(f"private key: {folder / PRIVATE_NAME} (mode 600; keep it secret)")
    info(f"public key:  {folder / PUBLIC_NAME} (give it to whoever verifies)")


@click.command()
@click.option(
    "--key",
    "key_path",
    required=True,
    type=InputFile("key file"),
    help="Private key PEM (from `monitor keygen`); must not be readable by others.",
)
@click.option(
    "--out", "out", type=click.Path(dir_okay=False), default=None, help="Checkpoint file to write."
)
@click.option(
    "--append", is_flag=True, help="Also store the checkpoint in the log (CheckpointSigned)."
)
@click.option(
    "--origin",
    default=None,
    help="The log's name in the checkpoint [default: <host>/news-monitor/<db name>].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def checkpoint(
    obj: CliContext,
    key_path: str,
    out: str | None,
    append: bool,
    origin: str | None,
    as_json: bool,
) -> None:
    """Sign the log's current head (position and hash) and write it to --out atomically.

    Keep the file (or a copy) where whoever can change the log cannot: then `monitor verify
    --checkpoint FILE --key PUB` detects records deleted from the end or rewritten up to it.
    Run it from cron or a systemd timer to sign regularly.
    """
    if out is None and not append:
        raise click.UsageError("give --out FILE, --append, or both")
    key = load_private_key(key_path)
    with open_log(obj.db) as event_log:
        name = origin or default_origin(event_log)
        writer = CheckpointWriter(key, out, origin=name, append_to_log=append)
        signed = writer.write(event_log)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "origin": signed.origin,
                    "position": signed.position,
                    "head": signed.head.hex(),
                    "time": signed.time.isoformat().replace("+00:00", "Z"),
                    "key_id": signed.key_id.hex(),
                    "file": None if out is None else os.fspath(out),
                    "appended_at": writer.appended_at,
                }
            )
        )
        return
    info(f"signed position {signed.position}, head {signed.head.hex()} ({signed.origin})")
    if out is not None:
        info(f"wrote {out}")
    if writer.appended_at is not None:
        info(f"stored in the log as record {writer.appended_at}")
    elif append:
        info("not stored in the log: the newest record is already a checkpoint")


def verify_signed(db: str, checkpoint_path: str | None, key_path: str, as_json: bool) -> bool:
    """`monitor verify --key PUB [--checkpoint FILE]`: check the log against the checkpoint
    file, or against the checkpoints stored in the log when no file is given; print the
    outcome and return whether it passed. A malformed checkpoint or key file raises (exit 4)
    before the log is opened."""
    public = load_public_key(key_path)
    signed = read_checkpoint(checkpoint_path) if checkpoint_path is not None else None
    with open_log(db, read_only=True) as event_log:
        if signed is not None:
            result = verify_against_checkpoint(event_log, signed, public)
        else:
            result = verify_log_checkpoints(event_log, public)
    if as_json:
        click.echo(json.dumps(_result_json(result)))
    elif result.ok:
        info(_success_line(result, in_log=signed is None))
    else:
        for problem in result.problems:
            click.echo(f"FAILED: {problem}", err=True)
    return result.ok


def _success_line(result: CheckpointVerifyResult, *, in_log: bool) -> str:
    assert result.checkpoint is not None
    signed = result.checkpoint
    source = f"{result.checked} in-log checkpoint(s) verified; " if in_log else ""
    after = result.head - signed.position
    return (
        f"ok: {source}log contains the signed head at {signed.position} ({signed.origin}, "
        f"signed {signed.time.isoformat().replace('+00:00', 'Z')}); {after} record(s) after "
        f"it are covered by the hash chain only; hash chain intact ({result.chain.checked} "
        "record(s))"
    )


def _result_json(result: CheckpointVerifyResult) -> dict[str, object]:
    signed = result.checkpoint
    return {
        "ok": result.ok,
        "checked": result.chain.checked,
        "first_bad": result.chain.first_bad,
        "reason": result.reason,
        "problems": list(result.problems),
        "log_head": result.head,
        "checkpoints_checked": result.checked,
        "checkpoint": None
        if signed is None
        else {
            "origin": signed.origin,
            "position": signed.position,
            "head": signed.head.hex(),
            "time": signed.time.isoformat().replace("+00:00", "Z"),
            "key_id": signed.key_id.hex(),
        },
    }


def register(group: click.Group) -> None:
    """Attach this module's commands to the `monitor` group."""
    for command in (keygen, checkpoint):
        group.add_command(command)
