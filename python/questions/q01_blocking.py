"""Question 1: one blocking call in an `async def` endpoint freezes the
whole server. Three endpoints wait the same `ms` three ways; `/health`
answers at once. lab/questions/q01_blocking_call.rs measures /health's
latency while one of the three is under load.

    cd python && uvicorn questions.q01_blocking:app --port 8000
"""

import asyncio
import time

from fastapi import FastAPI

app = FastAPI(title="Question 1: one blocking call")


@app.get("/health")
async def health():
    return {"ok": True}


# ANCHOR: blocking
@app.get("/report/blocking")
async def report_blocking(ms: int):
    time.sleep(ms / 1000)  # BAD: the event loop itself sleeps; nothing else runs
    return {"waited_ms": ms}
# ANCHOR_END: blocking


# ANCHOR: awaiting
@app.get("/report/awaiting")
async def report_awaiting(ms: int):
    await asyncio.sleep(ms / 1000)  # GOOD: the loop serves others meanwhile
    return {"waited_ms": ms}
# ANCHOR_END: awaiting


# ANCHOR: threadpool
@app.get("/report/threadpool")
def report_threadpool(ms: int):
    time.sleep(ms / 1000)  # GOOD: a `def` endpoint runs in FastAPI's threadpool
    return {"waited_ms": ms}
# ANCHOR_END: threadpool
