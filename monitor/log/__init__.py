"""The append-only event log: one interface, backends memory, SQLite (default) and PostgreSQL.

Open one with `open_log` from a URL or a path; see `EventLog` for the guarantees. Signed
checkpoints (`sign_checkpoint`, `verify_against_checkpoint`, `CheckpointWriter`) make the
log's hash chain evidence against truncation and rewrites, given a key kept outside it.
"""

from ._backup import BackupResult, backup
from ._base import (
    AppendResult,
    CheckpointPastHead,
    EventLog,
    NewRecord,
    ProjectionState,
    Record,
    VerifyResult,
    past_head_error,
)
from ._chain import GENESIS, chain_hash, record_hash
from ._checkpoint import (
    Checkpoint,
    CheckpointFormatError,
    CheckpointWriteError,
    checkpoint_event,
    default_origin,
    format_checkpoint,
    parse_checkpoint,
    read_checkpoint,
    sign_checkpoint,
    signature_problem,
    write_checkpoint,
)
from ._checkpoint_verify import (
    CheckpointVerifyResult,
    CheckpointWriter,
    verify_against_checkpoint,
    verify_log_checkpoints,
)
from ._keys import (
    KeyFileError,
    generate_keypair,
    load_private_key,
    load_public_key,
    note_key_id,
    public_key_bytes,
    save_keypair,
)
from ._memory import MemoryLog
from ._open import open_log
from ._salvage import SalvageResult, salvage

__all__ = [
    "GENESIS",
    "AppendResult",
    "BackupResult",
    "Checkpoint",
    "CheckpointFormatError",
    "CheckpointPastHead",
    "CheckpointVerifyResult",
    "CheckpointWriteError",
    "CheckpointWriter",
    "EventLog",
    "KeyFileError",
    "MemoryLog",
    "NewRecord",
    "ProjectionState",
    "Record",
    "SalvageResult",
    "VerifyResult",
    "backup",
    "chain_hash",
    "checkpoint_event",
    "default_origin",
    "format_checkpoint",
    "generate_keypair",
    "load_private_key",
    "load_public_key",
    "note_key_id",
    "open_log",
    "parse_checkpoint",
    "past_head_error",
    "public_key_bytes",
    "read_checkpoint",
    "record_hash",
    "salvage",
    "save_keypair",
    "sign_checkpoint",
    "signature_problem",
    "verify_against_checkpoint",
    "verify_log_checkpoints",
    "write_checkpoint",
]
