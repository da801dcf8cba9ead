"""FastAPI with plain `def` endpoints: FastAPI runs each one in its threadpool
(anyio's, 40 threads by default), so at most 40 requests wait at once
(chapter 4's spawn-blocking model with a pool of 40).

    cd python && uvicorn fastapi_app.def_app:app --port 8000
"""

import time

from lab_common import burn_cpu

from .common import CpuUs, NewUser, User, UserId, WaitMs, duplicate, make_app, no_user
from .db import SyncDatabase

app = make_app("Waiting Well: def (threadpool)")
db = SyncDatabase()


# ANCHOR: wait
@app.get("/wait")
def wait(ms: WaitMs):
    time.sleep(ms / 1000)  # one of the 40 pool threads waits; the loop does not
    return {"waited_ms": ms}
# ANCHOR_END: wait


@app.get("/cpu")
def cpu(us: CpuUs):
    burn_cpu(us)  # in a pool thread, but holding the GIL
    return {"cpu_us": us}


@app.get("/users/{user_id}", response_model=User)
def get_user(user_id: UserId):
    user = db.get_user(user_id)
    if user is None:
        raise no_user(user_id)
    return user


@app.post("/users", response_model=User, status_code=201)
def create_user(new: NewUser):
    user = db.insert_user(new.email)
    if user is None:
        raise duplicate(new.email)
    return user
