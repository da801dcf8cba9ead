"""What the FastAPI app and the Django project share: the settings, read from
the environment and checked once at start-up, the bounds of the contract
(lab/api/contract.rs), the users table, the rows of /api/serialize and the
CPU burner of /cpu.

WW_DATABASE        a SQLite file path (the default: waiting-well.sqlite in the
                   temp dir) or a PostgreSQL DSN (postgresql://...)
WW_DB_LATENCY_MS   an injected network round trip before every /users query,
                   0..=10000 ms (the Rust servers' --db-latency-ms)
WW_JSON            `json` (the default: the standard library's, as Starlette's
                   JSONResponse uses it) or `orjson` (FastAPI only; a
                   chapter 6 knob)

A bad value stops the server at start-up with a message, never mid-request.
"""

import os
import sqlite3
import sys
import tempfile
import time

# The same bounds as lab/api/contract.rs and lab/users.rs.
MAX_WAIT_MS = 10_000
MAX_CPU_US = 100_000
MAX_BODY_BYTES = 16 * 1024
MAX_EMAIL_CHARS = 254
# Our limit, not FastAPI's: FastAPI itself reads a body of any size.
BODY_TOO_LARGE = (
    f"request body too large: the limit is {MAX_BODY_BYTES} bytes "
    "(this book's limit, not a FastAPI or Django default)"
)
# /api/serialize answers this many {id, name, email} objects.
SERIALIZE_COUNT = 10_000


def _database() -> str:
    default = os.path.join(tempfile.gettempdir(), "waiting-well.sqlite")
    return os.environ.get("WW_DATABASE") or default


def _latency_seconds() -> float:
    raw = os.environ.get("WW_DB_LATENCY_MS", "0")
    if not raw.isdigit() or int(raw) > MAX_WAIT_MS:
        sys.exit(f"WW_DB_LATENCY_MS must be an integer in 0..={MAX_WAIT_MS}, got {raw!r}")
    return int(raw) / 1000


def _json() -> str:
    raw = os.environ.get("WW_JSON", "json")
    if raw not in ("json", "orjson"):
        sys.exit(f"WW_JSON must be json or orjson, got {raw!r}")
    return raw


DATABASE = _database()
JSON = _json()
IS_POSTGRES = DATABASE.startswith(("postgresql://", "postgres://"))
DB_LATENCY = _latency_seconds()


# The users table, as lab/users.rs creates it. On PostgreSQL, lab/postgres.rs
# creates its twin (id BIGSERIAL) before the servers start.
SQLITE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS users ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE)"
)


def create_sqlite_schema() -> None:
    """Creates the SQLite table if needed, in WAL mode (readers never wait for the writer)."""
    with sqlite3.connect(DATABASE) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(SQLITE_SCHEMA)


def serialize_rows() -> list[dict]:
    """The rows of /api/serialize: SERIALIZE_COUNT plain {id, name, email} dicts."""
    return [
        {"id": i, "name": f"User {i}", "email": f"user{i}@example.com"}
        for i in range(1, SERIALIZE_COUNT + 1)
    ]


def burn_cpu(us: int) -> None:
    """Busy CPU work until this thread has run for `us` microseconds of CPU
    time, holding the GIL: nothing to overlap. CPU time, not wall-clock time
    (as `lab::wait::burn_cpu` in Rust): a thread preempted, or waiting for
    the GIL, half-way still owes the rest of its work."""
    end = time.thread_time() + us / 1_000_000
    x = 1
    while time.thread_time() < end:
        for _ in range(64):
            x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFF_FFFF_FFFF_FFFF
