"""FastAPI with `async def` endpoints: every wait is an `await`, so one event
loop overlaps all of them (chapter 4's event loop).

    cd python && uvicorn fastapi_app.async_app:app --port 8000 [--workers N]
"""

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab_common import burn_cpu

from .common import CpuUs, NewUser, User, UserId, WaitMs, duplicate, make_app, no_user
from .db import AsyncDatabase


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.db = await AsyncDatabase.open()  # the asyncpg pool, once per worker
    yield
    await app.state.db.close()


app = make_app("Waiting Well: async def", lifespan)


# ANCHOR: wait
@app.get("/wait")
async def wait(ms: WaitMs):
    await asyncio.sleep(ms / 1000)  # the loop serves other requests meanwhile
    return {"waited_ms": ms}
# ANCHOR_END: wait


@app.get("/cpu")
async def cpu(us: CpuUs):
    burn_cpu(us)  # no await: the loop does nothing else meanwhile
    return {"cpu_us": us}


# ANCHOR: users
@app.get("/users/{user_id}", response_model=User)
async def get_user(user_id: UserId, request: Request):
    user = await request.app.state.db.get_user(user_id)
    if user is None:
        raise no_user(user_id)
    return user


@app.post("/users", response_model=User, status_code=201)
async def create_user(new: NewUser, request: Request):
    user = await request.app.state.db.insert_user(new.email)
    if user is None:
        raise duplicate(new.email)
    return user
# ANCHOR_END: users
