"""Child processes for the crash and concurrency tests, and the logic they share with the parent.

Run as ``python -m tests.log._child MODE ...`` from the repository root:

``crash DB ACKS RUN BATCH_SIZE [RETRY_BATCH]``
    Forever: append a batch of BATCH_SIZE records (payload names the batch, dedupe keys
    ``<batch>:<i>``), write ``acked <batch>`` to ACKS once `append` has returned, then advance a
    counting projection (`commit_projection`) and a deriving subscriber (`append(...,
    checkpoint=...)`) by one step each. The parent kills it with SIGKILL at a random moment.
    With RETRY_BATCH it first re-appends that batch of the previous run, the way a restarted
    watcher re-fetches what it was storing when it died, and reports ``retry <batch> dup``
    (already stored), ``stored`` (it was not) or ``partial`` (a torn batch: a bug).

``append-items DB WRITER COUNT SEED BATCH GO``
    Print ``ready``, wait until the file GO exists, open DB (creating it if needed) and append
    items 0..COUNT-1, dedupe key ``item:<n>``, in an order shuffled by SEED, BATCH per append.
    Print ``stored S dup D`` and exit 0.

It writes ``opening`` just before it opens DB and ``ready`` once it has, so the parent can aim a
kill at the creation of a new file. ACKS is written with unbuffered `os.write` calls, so every
line written before the kill is in the file afterwards: the parent knows exactly which appends
were acknowledged.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

from monitor.log import EventLog, NewRecord, open_log

SOURCE_TYPE = "CrashTestItem"
DERIVED_TYPE = "CrashTestDerived"
ITEM_TYPE = "ConcurrencyItem"
PROJECTION = "crash-count"
SUBSCRIBER = "crash-derive"
#: Step sizes deliberately not dividing the batch size, so checkpoints land inside batches.
PROJECTION_CHUNK = 37
SUBSCRIBER_CHUNK = 23

_FILLER = (
    "Port authorities reported a second day of delays at the northern container terminal "
    "after a crane failure, with shipping agents rerouting smaller vessels to the river berths."
)


def batch_records(batch: str, size: int) -> list[NewRecord]:
    """The records of batch `batch`: each names its batch and index, dedupe key ``batch:i``."""
    return [
        NewRecord(
            SOURCE_TYPE,
            1,
            json.dumps({"batch": batch, "i": i, "text": _FILLER}, sort_keys=True).encode(),
            f"{batch}:{i}",
        )
        for i in range(size)
    ]


def projection_step(log: EventLog, limit: int | None = None) -> int:
    """Fold source records after the projection's checkpoint, PROJECTION_CHUNK per commit.

    The state counts how often each position was applied (key ``p:<position>``), read back from
    the store, not from memory, so an event applied twice would show as a 2. Each commit writes
    the changed counts and the new checkpoint in one transaction. Stops after `limit` commits
    (None: at the head). Returns the number of records applied.
    """
    state = log.projection_state(PROJECTION)
    after = state.position if state else 0
    applied = 0
    commits = 0
    page: list = []
    for record in log.read(after, types=[SOURCE_TYPE]):
        page.append(record)
        if len(page) == PROJECTION_CHUNK:
            applied += _commit_page(log, page)
            page = []
            commits += 1
            if limit is not None and commits >= limit:
                return applied
    if page:
        applied += _commit_page(log, page)
    return applied


def _commit_page(log: EventLog, page: list) -> int:
    changes: dict[str, int] = {}
    for record in page:
        key = f"p:{record.position:010d}"
        changes[key] = (log.projection_get(PROJECTION, key) or 0) + 1
    changes["count"] = (log.projection_get(PROJECTION, "count") or 0) + len(page)
    log.commit_projection(PROJECTION, 1, page[-1].position, changes)
    return len(page)


def subscriber_step(log: EventLog, limit: int | None = None) -> int:
    """Derive one record per source record after the subscriber's checkpoint.

    The derived records carry no dedupe key, so a source record handled twice would leave two
    derived records; each append moves the checkpoint in the same transaction. Stops after
    `limit` appends (None: at the head). Returns the number of records derived.
    """
    after = log.get_checkpoint(SUBSCRIBER)
    derived = 0
    appends = 0
    page: list = []
    for record in log.read(after, types=[SOURCE_TYPE]):
        page.append(record)
        if len(page) == SUBSCRIBER_CHUNK:
            derived += _derive(log, page)
            page = []
            appends += 1
            if limit is not None and appends >= limit:
                return derived
    if page:
        derived += _derive(log, page)
    return derived


def _derive(log: EventLog, page: list) -> int:
    out = [NewRecord(DERIVED_TYPE, 1, json.dumps({"of": r.position}).encode(), None) for r in page]
    log.append(out, checkpoint=(SUBSCRIBER, page[-1].position))
    return len(out)


def _crash(db: str, acks: str, run: int, size: int, retry: str | None) -> None:
    fd = os.open(acks, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def say(line: str) -> None:
        os.write(fd, f"{line}\n".encode())

    say("opening")
    log = open_log(db)
    say("ready")
    if retry is not None:
        result = log.append(batch_records(retry, size))
        if result.duplicates == size:
            say(f"retry {retry} dup")
        elif result.duplicates == 0:
            say(f"retry {retry} stored")
        else:
            say(f"retry {retry} partial")
    seq = 0
    while True:
        batch = f"r{run:03d}b{seq:06d}"
        say(f"attempt {batch}")
        log.append(batch_records(batch, size))
        say(f"acked {batch}")
        projection_step(log, limit=2)
        subscriber_step(log, limit=3)
        seq += 1


def _append_items(db: str, writer: str, count: int, seed: int, batch: int, go: str) -> None:
    order = list(range(count))
    random.Random(seed).shuffle(order)
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not Path(go).exists():
        if time.monotonic() > deadline:
            sys.exit(f"writer {writer}: the go file {go} never appeared")
        time.sleep(0.005)
    stored = dup = 0
    with open_log(db) as log:
        for start in range(0, count, batch):
            records = [
                NewRecord(
                    ITEM_TYPE,
                    1,
                    json.dumps({"n": n, "writer": writer}, sort_keys=True).encode(),
                    f"item:{n:05d}",
                )
                for n in order[start : start + batch]
            ]
            result = log.append(records)
            stored += len(result.stored)
            dup += result.duplicates
    print(f"stored {stored} dup {dup}", flush=True)


def main(argv: list[str]) -> None:
    """Dispatch on the mode named by the first argument (see the module docstring)."""
    mode, *args = argv
    if mode == "crash":
        db, acks, run, size, *rest = args
        _crash(db, acks, int(run), int(size), rest[0] if rest else None)
    elif mode == "append-items":
        db, writer, count, seed, batch, go = args
        _append_items(db, writer, int(count), int(seed), int(batch), go)
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
