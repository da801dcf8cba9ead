"""The users table for the FastAPI app, twice: `AsyncDatabase` for `async def`
endpoints (asyncpg, a pool of 20 — or SQLite) and `SyncDatabase` for `def`
endpoints and the blocked loop (psycopg, one connection per thread — or SQLite).

Every query first waits WW_DB_LATENCY_MS, the injected network round trip of
the Rust servers' --db-latency-ms: `await asyncio.sleep` in the async class
(the loop serves others meanwhile), `time.sleep` in the sync one (the thread
waits). On SQLite the query itself is a local file read of microseconds,
run on the calling thread: the round trip is the sleep. On PostgreSQL it is
a real round trip over loopback. Left out: transactions, migrations.
"""

import asyncio
import sqlite3
import threading
import time

import asyncpg
import psycopg

import lab_common

GET = "SELECT id, email FROM users WHERE id = {}"
INSERT = "INSERT INTO users (email) VALUES ({}) RETURNING id, email"


async def round_trip() -> None:
    """The injected network round trip, awaited: the loop serves others meanwhile."""
    if lab_common.DB_LATENCY:
        await asyncio.sleep(lab_common.DB_LATENCY)


def blocking_round_trip() -> None:
    """The injected network round trip, slept: this thread waits."""
    if lab_common.DB_LATENCY:
        time.sleep(lab_common.DB_LATENCY)


class AsyncDatabase:
    """For `async def` endpoints: every wait is an await."""

    @classmethod
    async def open(cls) -> "AsyncDatabase":
        self = cls()
        if lab_common.IS_POSTGRES:
            # The pool of 20 of the published benchmark; connections are
            # opened now, at start-up, not by the first requests.
            self.pool = await asyncpg.create_pool(lab_common.DATABASE, min_size=20, max_size=20)
            self.conn = None
        else:
            lab_common.create_sqlite_schema()
            self.pool = None
            self.conn = sqlite3.connect(lab_common.DATABASE, check_same_thread=False)
        return self

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        else:
            self.conn.close()

    async def get_user(self, user_id: int) -> dict | None:
        await round_trip()
        if self.pool is not None:
            row = await self.pool.fetchrow(GET.format("$1"), user_id)
        else:
            row = self.conn.execute(GET.format("?"), (user_id,)).fetchone()
        return None if row is None else {"id": row[0], "email": row[1]}

    async def insert_user(self, email: str) -> dict | None:
        """The new user, or None if the e-mail address is taken."""
        await round_trip()
        if self.pool is not None:
            try:
                row = await self.pool.fetchrow(INSERT.format("$1"), email)
            except asyncpg.UniqueViolationError:
                return None
        else:
            try:
                with self.conn:  # commit
                    row = self.conn.execute(INSERT.format("?"), (email,)).fetchone()
            except sqlite3.IntegrityError:
                return None
        return {"id": row[0], "email": row[1]}


class SyncDatabase:
    """For `def` endpoints (and the blocked loop): every wait blocks the
    thread. One connection per thread, like Django's persistent connections."""

    def __init__(self) -> None:
        if not lab_common.IS_POSTGRES:
            lab_common.create_sqlite_schema()
        self.local = threading.local()

    def connection(self):
        if not hasattr(self.local, "conn"):
            if lab_common.IS_POSTGRES:
                self.local.conn = psycopg.connect(lab_common.DATABASE, autocommit=True)
            else:
                self.local.conn = sqlite3.connect(lab_common.DATABASE, isolation_level=None)
        return self.local.conn

    def placeholder(self) -> str:
        return "%s" if lab_common.IS_POSTGRES else "?"

    def get_user(self, user_id: int) -> dict | None:
        blocking_round_trip()
        row = self.connection().execute(GET.format(self.placeholder()), (user_id,)).fetchone()
        return None if row is None else {"id": row[0], "email": row[1]}

    def insert_user(self, email: str) -> dict | None:
        """The new user, or None if the e-mail address is taken."""
        blocking_round_trip()
        conn = self.connection()
        try:
            row = conn.execute(INSERT.format(self.placeholder()), (email,)).fetchone()
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            return None
        return {"id": row[0], "email": row[1]}
