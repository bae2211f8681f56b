"""The append-only event log: one interface, backends memory, SQLite (default) and PostgreSQL.

Open one with `open_log` from a URL or a path; see `EventLog` for the guarantees.
"""

from ._base import AppendResult, EventLog, NewRecord, ProjectionState, Record, VerifyResult
from ._chain import GENESIS, chain_hash, record_hash
from ._memory import MemoryLog
from ._open import open_log

__all__ = [
    "GENESIS",
    "AppendResult",
    "EventLog",
    "MemoryLog",
    "NewRecord",
    "ProjectionState",
    "Record",
    "VerifyResult",
    "chain_hash",
    "open_log",
    "record_hash",
]
