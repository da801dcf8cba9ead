"""Question 8: why doesn't lifespan run in my tests?

One FastAPI app whose lifespan opens a "pool" (and records it), called four
ways a test suite calls it. Prints one JSON line: for each way, whether
startup ran, what the request got, whether shutdown ran. Deterministic: no
timing, no port.

Run:  python questions/q08_lifespan_tests.py
"""

import asyncio
import json
from contextlib import asynccontextmanager

import fastapi
import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

events = []


# ANCHOR: app
@asynccontextmanager
async def lifespan(app: FastAPI):
    events.append("startup")
    app.state.pool = ["connection"]  # what the routes need
    yield
    events.append("shutdown")
    del app.state.pool


app = FastAPI(lifespan=lifespan)


@app.get("/pool")
async def pool(request: Request):
    return {"connections": len(request.app.state.pool)}  # AttributeError without startup
# ANCHOR_END: app


def outcome(call):
    try:
        response = call()
        return f"{response.status_code}"
    except Exception as error:  # what the test sees
        return type(error).__name__


# ANCHOR: ways
def test_client_without_with():
    client = TestClient(app)
    return outcome(lambda: client.get("/pool"))


def test_client_with_with():
    with TestClient(app) as client:
        return outcome(lambda: client.get("/pool"))


async def async_client_alone():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await async_outcome(client.get("/pool"))


async def async_client_with_lifespan_manager():
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await async_outcome(client.get("/pool"))
# ANCHOR_END: ways


async def async_outcome(awaitable):
    try:
        return f"{(await awaitable).status_code}"
    except Exception as error:
        return type(error).__name__


def main():
    rows = []
    ways = [
        ("TestClient(app)", test_client_without_with),
        ("with TestClient(app) as client", test_client_with_with),
        ("httpx.AsyncClient + ASGITransport", lambda: asyncio.run(async_client_alone())),
        (
            "LifespanManager + ASGITransport",
            lambda: asyncio.run(async_client_with_lifespan_manager()),
        ),
    ]
    for name, way in ways:
        events.clear()
        if hasattr(app.state, "pool"):
            del app.state.pool
        got = way()
        rows.append(
            {
                "way": name,
                "startup": "startup" in events,
                "request": got,
                "shutdown": "shutdown" in events,
            }
        )
    print(json.dumps({"fastapi": fastapi.__version__, "httpx": httpx.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
