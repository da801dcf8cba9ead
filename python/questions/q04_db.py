"""Question 4: a sync database session inside `async def`, and a pool that
runs out. Every query is PostgreSQL's `SELECT pg_sleep(s)`: a real round
trip that takes `ms`. lab/questions/q04_sync_session.rs starts a throwaway
PostgreSQL (WW_DATABASE) and measures each endpoint and /health beside it.

    cd python && WW_DATABASE=postgresql://app@127.0.0.1:5432/postgres uvicorn questions.q04_db:app
"""

import os
import threading
from typing import Literal
from contextlib import asynccontextmanager

import asyncpg
import psycopg
from fastapi import FastAPI, Request

DSN = os.environ["WW_DATABASE"]
POOLS = {"small": 5, "large": 20}  # asyncpg pools, opened at start-up


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pools = {
        name: await asyncpg.create_pool(DSN, min_size=size, max_size=size)
        for name, size in POOLS.items()
    }
    app.state.session = psycopg.connect(DSN, autocommit=True)  # one sync session
    yield
    for pool in app.state.pools.values():
        await pool.close()
    app.state.session.close()


app = FastAPI(title="Question 4: sessions and pools", lifespan=lifespan)


@app.get("/health")
async def health():
    return {"ok": True}


# ANCHOR: sync_in_async
@app.get("/sync-in-async")
async def sync_session_in_async(ms: int, request: Request):
    # BAD: psycopg's sync call waits for PostgreSQL on the event loop itself
    request.app.state.session.execute("SELECT pg_sleep(%s)", (ms / 1000,))
    return {"slept_ms": ms}
# ANCHOR_END: sync_in_async


_local = threading.local()


# ANCHOR: sync_in_def
@app.get("/sync-in-def")
def sync_session_in_def(ms: int):
    # GOOD: a `def` endpoint waits on a threadpool thread, with its own session
    if not hasattr(_local, "session"):
        _local.session = psycopg.connect(DSN, autocommit=True)
    _local.session.execute("SELECT pg_sleep(%s)", (ms / 1000,))
    return {"slept_ms": ms}
# ANCHOR_END: sync_in_def


# ANCHOR: pooled
@app.get("/pool/{name}")
async def pooled(name: Literal["small", "large"], ms: int, request: Request):
    pool = request.app.state.pools[name]
    async with pool.acquire() as conn:  # waits here while every connection is out
        await conn.execute("SELECT pg_sleep($1)", ms / 1000)  # the loop serves others
    return {"slept_ms": ms}
# ANCHOR_END: pooled
