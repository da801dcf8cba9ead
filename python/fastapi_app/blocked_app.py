"""FastAPI with the classic bug: `async def` endpoints that call blocking
code (`time.sleep`, a blocking driver). They run on the event loop thread
itself, so one waiting request stops every other (chapter 4's blocked loop).

    cd python && uvicorn fastapi_app.blocked_app:app --port 8000
"""

import time

from lab_common import burn_cpu

from .common import CpuUs, NewUser, User, UserId, WaitMs, duplicate, make_app, no_user
from .db import SyncDatabase

app = make_app("Waiting Well: async def + time.sleep (blocked)")
db = SyncDatabase()


# ANCHOR: wait
@app.get("/wait")
async def wait(ms: WaitMs):
    time.sleep(ms / 1000)  # BUG: blocks the loop; every other request waits too
    return {"waited_ms": ms}
# ANCHOR_END: wait


@app.get("/cpu")
async def cpu(us: CpuUs):
    burn_cpu(us)
    return {"cpu_us": us}


@app.get("/users/{user_id}", response_model=User)
async def get_user(user_id: UserId):
    user = db.get_user(user_id)  # blocking driver on the loop: the same bug
    if user is None:
        raise no_user(user_id)
    return user


@app.post("/users", response_model=User, status_code=201)
async def create_user(new: NewUser):
    user = db.insert_user(new.email)
    if user is None:
        raise duplicate(new.email)
    return user
