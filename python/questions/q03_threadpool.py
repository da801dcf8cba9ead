"""Question 3: "sync endpoints scale with threads". FastAPI runs `def`
endpoints, `def` dependencies, sync iterators of a StreamingResponse and
`def` background tasks on AnyIO's default thread limiter: 40 tokens per
process. lab/questions/q03_threadpool_cap.rs fills the tokens with slow
`def` requests and measures what else has to wait for one, and what `def`
background tasks queued by `/enqueue` take from a `def` endpoint.

    cd python && WW_THREAD_TOKENS=100 uvicorn questions.q03_threadpool:app --port 8000
"""

import os
import time
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import BackgroundTasks, Depends, FastAPI
from fastapi.responses import StreamingResponse


# ANCHOR: raise_limit
@asynccontextmanager
async def lifespan(app: FastAPI):
    tokens = os.environ.get("WW_THREAD_TOKENS")
    if tokens:  # AnyIO's default is 40 threads for every `def` in the process
        anyio.to_thread.current_default_thread_limiter().total_tokens = int(tokens)
    yield
# ANCHOR_END: raise_limit


app = FastAPI(title="Question 3: one threadpool for everything sync", lifespan=lifespan)


@app.get("/tokens")
async def tokens():
    return {"total_tokens": anyio.to_thread.current_default_thread_limiter().total_tokens}


# ANCHOR: slow_def
@app.get("/slow")
def slow(ms: int):
    time.sleep(ms / 1000)  # holds one of the limiter's tokens all along
    return {"waited_ms": ms}
# ANCHOR_END: slow_def


# ANCHOR: takers
@app.get("/health/async")
async def health_async():
    return {"ok": True}  # no token: runs on the loop


@app.get("/health/def")
def health_def():
    return {"ok": True}  # needs a token, like /slow


def settings():  # a plain `def` dependency: FastAPI runs it in the threadpool too
    return {"region": "eu"}


@app.get("/health/dependency")
async def health_with_sync_dependency(s: dict = Depends(settings)):
    return {"ok": True, **s}


def rows():  # a sync iterator: Starlette fetches every chunk in the threadpool
    yield b'{"ok": true}'


@app.get("/health/stream")
async def health_streamed():
    return StreamingResponse(rows(), media_type="application/json")
# ANCHOR_END: takers


# ANCHOR: background
def write_audit_log(ms: int):  # a `def` background task: it takes a token too
    time.sleep(ms / 1000)


@app.get("/enqueue")
async def enqueue(ms: int, tasks: BackgroundTasks):
    tasks.add_task(write_audit_log, ms)  # runs after the answer is sent
    return {"queued_ms": ms}
# ANCHOR_END: background
