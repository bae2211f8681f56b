"""PostgreSQL-only guarantees: late commits, concurrent writers, lost connections, bad servers.

Every test uses its own schema on the server named by MONITOR_TEST_PG (see tests/pg.py) and
is skipped, with that reason, when the variable is not set.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from monitor.errors import LogError, LogLockedError, LogSchemaError, LogUnavailableError
from monitor.log import NewRecord, open_log
from monitor.log._postgres import PostgresLog
from tests.conftest import REPO
from tests.log._child import ITEM_TYPE
from tests.pg import admin, fresh_postgres_log, log_url, new_schema, pg_url, terminate

pytestmark = pytest.mark.postgres


def rec(key: str, n: int = 0) -> NewRecord:
    """A small record with dedupe key `key`."""
    return NewRecord("T", 1, json.dumps({"n": n, "key": key}).encode(), key)


@pytest.fixture
def url() -> str:
    """The test server's URL (skips without MONITOR_TEST_PG)."""
    return pg_url()


@pytest.fixture
def log(url):
    """A fresh PostgreSQL log in its own schema."""
    lg = fresh_postgres_log(url)
    yield lg
    lg.close()


def other_handle(log: PostgresLog, name: str) -> PostgresLog:
    """A second, independent handle on the same schema (another process or machine)."""
    return PostgresLog(log.url, schema=log.schema, application_name=name)


def wait_until(condition, what: str, timeout: float = 10.0) -> None:
    """Poll `condition` until it holds; fail with `what` if it never does (a bound, not a
    timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout}s waiting for: {what}")
        time.sleep(0.01)


def waiting_on_advisory_lock(url: str, application_name: str) -> bool:
    """Whether a backend of `application_name` is blocked waiting for an advisory lock."""
    with admin(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            (application_name,),
        ).fetchone()
    return row[0] > 0


def test_follower_never_passes_a_record_that_commits_late(log, url):
    """Writer A holds its append open; writer B queues behind it; the follower sees neither
    until A commits, then both, in position order, and nothing is skipped."""
    log.append([rec("seed")])
    writer_a = other_handle(log, f"{log.schema}-a")
    writer_b = other_handle(log, f"{log.schema}-b")
    inside, release = threading.Event(), threading.Event()
    original = writer_a._announce

    def held_open(conn, position):
        original(conn, position)  # A's record is inserted and numbered, not yet committed
        inside.set()
        release.wait(30)

    writer_a._announce = held_open
    results: dict[str, tuple] = {}
    thread_a = threading.Thread(
        target=lambda: results.setdefault("a", writer_a.append([rec("late")]).positions)
    )
    thread_b = threading.Thread(
        target=lambda: results.setdefault("b", writer_b.append([rec("early")]).positions)
    )
    seen: list[int] = []
    stop = threading.Event()

    def follow() -> None:
        for record in log.follow(0, stop=stop, poll_interval=0.05):
            seen.append(record.position)
            if record.position == 3:
                stop.set()

    follower = threading.Thread(target=follow)
    follower.start()
    thread_a.start()
    assert inside.wait(10), "writer A never reached its commit"
    thread_b.start()
    wait_until(
        lambda: waiting_on_advisory_lock(url, f"{log.schema}-b"),
        "writer B to queue behind A's append lock",
    )
    # A's record (position 2) is not committed and B waits: the follower must still be at 1.
    assert log.head() == 1 and seen == [1]
    assert thread_b.is_alive()
    release.set()
    for thread in (thread_a, thread_b, follower):
        thread.join(15)
    assert results == {"a": (2,), "b": (3,)}
    assert seen == [1, 2, 3]
    assert [r.dedupe_key for r in log.read()] == ["seed", "late", "early"]
    writer_a.close()
    writer_b.close()


def test_four_processes_append_overlapping_keys_without_gaps_or_duplicates(log, url):
    """4 processes x 10,000 items (each key offered by two writers) while a reader follows:
    positions 1..N without gaps, each key once, and the reader sees every record in order."""
    count, writers = 10_000, 4
    go = REPO / ".run" / f"go-{log.schema}"
    go.parent.mkdir(exist_ok=True)
    target = log_url(url, log.schema, application_name=f"{log.schema}-w")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.log._child", "append-items", target, str(w),
             str(count), str(w), str(25 + 25 * w), str(go)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        for w in range(writers)
    ]  # fmt: skip
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        seen: list[int] = []
        keys_seen: list[str] = []
        stop = threading.Event()

        def follow() -> None:
            for record in log.follow(0, stop=stop, poll_interval=0.2, page_size=500):
                seen.append(record.position)
                keys_seen.append(record.dedupe_key)
                if len(seen) == count:
                    stop.set()

        reader = threading.Thread(target=follow)
        reader.start()
        go.touch()
        outputs = [proc.communicate(timeout=120)[0] for proc in procs]
        reader.join(60)
    finally:
        go.unlink(missing_ok=True)
        for proc in procs:
            proc.kill()
    assert all(proc.returncode == 0 for proc in procs), outputs
    stored = sum(int(out.split()[1]) for out in outputs)
    duplicates = sum(int(out.split()[3]) for out in outputs)
    assert (stored, duplicates) == (count, count * (writers - 1))
    assert seen == list(range(1, count + 1))
    assert sorted(keys_seen) == [f"item:{n:05d}" for n in range(count)]
    assert [r.position for r in log.read()] == seen
    assert {r.type for r in log.read()} == {ITEM_TYPE}
    assert log.verify().ok


def test_killed_connections_reconnect_and_lose_nothing(log, url):
    """Killing every server connection of the log mid-run (as a server restart would): each
    append still returns exactly once, and the log holds every acknowledged record once."""
    name = log.application_name
    acked: list[tuple[int, ...]] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    seen: list[int] = []

    def writer() -> None:
        try:
            for batch in range(300):
                records = [rec(f"b{batch}:{i}", batch) for i in range(5)] + [
                    NewRecord("Unkeyed", 1, b"{}", None)
                ]
                acked.append(log.append(records).positions)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def follow() -> None:
        for record in log.follow(0, stop=stop, poll_interval=0.05):
            seen.append(record.position)

    thread = threading.Thread(target=writer)
    follower = threading.Thread(target=follow)
    thread.start()
    follower.start()
    kills = 0
    for target in (20, 100, 200):
        wait_until(lambda t=target: len(acked) >= t or not thread.is_alive(), "appends")
        kills += terminate(url, name)
    thread.join(60)
    wait_until(lambda: len(seen) >= 1800, "the follower to catch up")
    stop.set()
    follower.join(10)
    assert not errors, errors
    assert kills >= 3
    assert len(acked) == 300
    positions = [p for batch in acked for p in batch]
    assert positions == list(range(1, 1801))  # every record of every batch stored once
    assert log.head() == 1800
    assert seen == positions
    keys = [r.dedupe_key for r in log.read() if r.dedupe_key]
    assert len(keys) == len(set(keys)) == 1500
    assert log.verify().ok


def test_append_that_committed_before_the_line_dropped_is_not_repeated(log):
    """If the connection breaks right after COMMIT reached the server, the retry finds the
    committed records by their hash and returns their positions instead of storing them
    again (records without a dedupe key would otherwise be doubled)."""
    log.append([rec("first")])
    real = log._writer._conn

    class DropsAfterCommit:
        def __getattr__(self, attr):
            return getattr(real, attr)

        def execute(self, query, *args, **kwargs):
            result = real.execute(query, *args, **kwargs)
            if query == "COMMIT":
                real.close()  # committed on the server; the client never hears back
                raise psycopg.OperationalError("the connection was lost")
            return result

    log._writer._conn = DropsAfterCommit()
    unkeyed = [NewRecord("Unkeyed", 1, b'{"once":true}', None)]
    assert log.append(unkeyed).positions == (2,)
    assert [r.type for r in log.read()] == ["T", "Unkeyed"]
    assert log.append([NewRecord("Unkeyed", 1, b"{}", None)]).positions == (3,)


def test_append_rolled_back_by_a_lost_connection_is_retried(log, url):
    """A connection killed while the append's transaction is open rolls it back; the log
    reconnects and stores the batch once, at the next position."""
    log.append([rec("first")])
    original = log._announce
    calls = []

    def killed_mid_append(conn, position):
        original(conn, position)
        calls.append(position)
        if len(calls) == 1:
            terminate(url, log.application_name)

    log._announce = killed_mid_append
    result = log.append([rec("second"), NewRecord("Unkeyed", 1, b"{}", None)])
    assert result.positions == (2, 3)
    assert len(calls) == 2  # the first attempt was rolled back, the second committed
    assert [r.position for r in log.read()] == [1, 2, 3]


def test_unreachable_server_raises_log_unavailable(url):
    """A server that never answers gives LogUnavailableError naming it, after the bounded
    reconnect time, not a hang or a psycopg traceback."""
    with pytest.raises(LogUnavailableError, match=r"127\.0\.0\.1:9/test is unreachable"):
        PostgresLog("postgresql://postgres@127.0.0.1:9/test", reconnect_timeout=0.3)


def test_server_that_goes_away_mid_use_raises_log_unavailable(log, url):
    """When the connections keep being killed past reconnect_timeout, operations raise
    LogUnavailableError instead of retrying forever."""
    log._writer.reconnect_timeout = log._reader.reconnect_timeout = 0.5
    log.append([rec("a")])
    stop = threading.Event()

    def keep_killing() -> None:
        while not stop.is_set():
            terminate(url, log.application_name)
            time.sleep(0.005)

    killer = threading.Thread(target=keep_killing)
    killer.start()
    try:
        with pytest.raises(LogUnavailableError, match="is unreachable"):
            for n in range(10_000):
                log.append([rec(f"k{n}")])
    finally:
        stop.set()
        killer.join(10)
    head = log.head()  # back once the killing stops
    assert [r.position for r in log.read()] == list(range(1, head + 1))


def test_wrong_database_fails_fast_with_a_clear_error(url):
    """A database that does not exist is reported at once ("cannot connect"), not retried
    until reconnect_timeout ("kept retrying")."""
    bad = url.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(LogUnavailableError, match=r"cannot connect .*no_such_database_here"):
        PostgresLog(bad, reconnect_timeout=600)


def test_foreign_schema_is_refused(url):
    """A schema holding another application's tables is not written into."""
    schema = new_schema()
    with admin(url) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".customers (id int)')
    try:
        with pytest.raises(LogSchemaError, match="belongs to another application"):
            PostgresLog(url, schema=schema)
    finally:
        with admin(url) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_bad_schema_name_is_refused(url):
    """A schema name that is not a plain identifier is a clear LogError."""
    with pytest.raises(LogError, match="invalid schema name"):
        PostgresLog(url, schema="x; drop table y")


def test_open_log_reads_options_from_the_url(log, url):
    """open_log(postgresql://...?schema=S) reopens the same log; libpq options pass through."""
    log.append([rec("a")])
    with open_log(log_url(url, log.schema, application_name="reopen")) as again:
        assert [r.dedupe_key for r in again.read()] == ["a"]
        assert again.application_name == "reopen"


def test_wait_wakes_on_notify_from_another_connection(log):
    """A follower blocked in wait() is woken by another handle's append (LISTEN/NOTIFY)."""
    other = other_handle(log, f"{log.schema}-x")
    log._poll_interval = 60.0  # so only a notification can wake it within the bound below
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(log.wait(0, 30)))
    waiter.start()
    wait_until(lambda: log._listener is not None, "the listener to connect")
    other.append([rec("wake")])
    waiter.join(20)
    other.close()
    assert woke == [True]
    assert not waiter.is_alive()


def test_projection_state_and_checkpoint_commit_together(log):
    """A failing projection commit leaves neither its state nor its checkpoint changed."""
    log.commit_projection("p", 1, 5, {"a": 1})
    with pytest.raises(TypeError):
        log.commit_projection("p", 1, 9, {"a": 2, "b": object()})
    assert log.projection_get("p", "a") == 1
    assert log.projection_state("p").position == 5


def test_records_are_numbered_in_commit_order_by_concurrent_threads(log):
    """Eight threads appending through one handle and through their own handles leave a
    gap-free, hash-chained log with every key once."""
    handles = [log] * 4 + [other_handle(log, f"{log.schema}-t{i}") for i in range(4)]

    def write(i: int, handle: PostgresLog) -> None:
        for n in range(50):
            handle.append([rec(f"t{i}:{n}"), rec(f"t{(i + 1) % 8}:{n}")])

    threads = [threading.Thread(target=write, args=(i, h)) for i, h in enumerate(handles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for handle in handles[4:]:
        handle.close()
    records = list(log.read())
    assert [r.position for r in records] == list(range(1, 401))
    assert len({r.dedupe_key for r in records}) == 400
    assert log.verify().ok


def test_append_lock_held_too_long_is_log_locked_error(log):
    """A writer stuck inside its append makes another writer give up after lock_timeout with
    LogLockedError (telling how to raise it), storing nothing; the log works afterwards."""
    stuck = other_handle(log, f"{log.schema}-stuck")
    inside, release = threading.Event(), threading.Event()
    original = stuck._announce

    def held_open(conn, position):
        original(conn, position)
        inside.set()
        release.wait(30)

    stuck._announce = held_open
    thread = threading.Thread(target=lambda: stuck.append([rec("stuck")]))
    thread.start()
    impatient = PostgresLog(log.url, schema=log.schema, lock_timeout=0.2)
    try:
        assert inside.wait(10), "the stuck writer never reached its commit"
        with pytest.raises(LogLockedError, match="lock_timeout=SECONDS"):
            impatient.append([rec("impatient")])
    finally:
        release.set()
        thread.join(15)
    assert [r.dedupe_key for r in log.read()] == ["stuck"]
    assert impatient.append([rec("impatient")]).positions == (2,)
    impatient.close()
    stuck.close()


def test_unknown_url_option_is_a_clear_error(url):
    """A misspelt option in the URL is named in the error, at once, not retried."""
    with pytest.raises(LogError, match="bogus_option"):
        open_log(log_url(url, new_schema(), bogus_option=1, reconnect_timeout=600))


def test_bad_number_option_is_a_clear_error(url):
    """A timeout that is not a number of seconds is a LogError naming the option."""
    with pytest.raises(LogError, match="lock_timeout must be a number of seconds, not 'soon'"):
        open_log(log_url(url, new_schema(), lock_timeout="soon"))


def test_url_reopens_the_log_and_repr_hides_the_password(log, url):
    """`url` names the schema (so it reopens this log); repr never shows a password."""
    log.append([rec("a")])
    plain = PostgresLog(url, schema=log.schema)
    assert f"schema={log.schema}" in plain.url
    with open_log(plain.url) as again:
        assert again.head() == 1
    plain.close()
    secret = url.replace("postgres@", "postgres:hunter2@", 1)
    with PostgresLog(secret, schema=log.schema) as shown:
        assert "hunter2" not in repr(shown) and ":***@" in repr(shown)


def test_monitor_imports_without_psycopg_and_open_log_says_what_to_install():
    """Without psycopg, `import monitor` works and a postgresql:// URL names the extra."""
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "import monitor, monitor.log\n"
        "from monitor.log import open_log\n"
        "try:\n"
        "    open_log('postgresql://u@127.0.0.1/db')\n"
        "except monitor.errors.LogError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "pip install 'news-monitor[postgres]'" in out.stdout


def test_concurrent_commits_of_one_projection_never_deadlock(log):
    """Two processes committing the same projection's keys in opposite orders take turns
    (a per-projection lock) instead of failing with a deadlock."""
    other = other_handle(log, f"{log.schema}-p")
    keys = [f"k{i:03d}" for i in range(60)]
    errors: list[BaseException] = []

    def commit(handle: PostgresLog, order: list[str], tag: int) -> None:
        try:
            for round_ in range(15):
                handle.commit_projection("shared", 1, round_, {k: tag for k in order})
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=commit, args=(log, keys, 1)),
        threading.Thread(target=commit, args=(other, keys[::-1], 2)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    other.close()
    assert not errors, errors
    values = {v for _, v in log.projection_scan("shared")}
    assert len(log.projection_scan("shared")) == 60 and len(values) == 1  # one commit won last


def test_closed_log_refuses_instead_of_reconnecting(url):
    """After close(), operations raise a clear LogError and open no new connection."""
    lg = fresh_postgres_log(url)
    lg.append([rec("a")])
    lg.close()
    with pytest.raises(LogError, match="was closed"):
        lg.head()
    with pytest.raises(LogError, match="was closed"):
        lg.append([rec("b")])
