"""Question 7: when does my `yield` dependency's cleanup run?

A FastAPI app on a real uvicorn (in this process, on a loopback port): a
`yield` dependency that "acquires a database connection" and releases it in
its cleanup, used by a plain JSON route and by a StreamingResponse route,
with the default scope ("request") and with `Depends(..., scope="function")`
where the installed FastAPI has it. A pure ASGI middleware records when the
response starts and when its last byte is sent. Prints one JSON line: per
route, the order of events and how long the connection was held.

Run:  python questions/q07_yield_cleanup.py --chunks 5 --delay-ms 20
"""

import argparse
import asyncio
import inspect
import json
import socket
import time

import fastapi
import uvicorn
from fastapi import Depends, FastAPI
from fastapi.responses import StreamingResponse

T0 = time.perf_counter()
log = []  # (ms since the request began, event)


def record(event):
    log.append((time.perf_counter(), event))


# ANCHOR: dependency
async def get_db():
    record("acquired")  # e.g. a connection taken from the pool
    try:
        yield "connection"
    finally:
        record("released")  # the cleanup: back to the pool
# ANCHOR_END: dependency


HAS_SCOPE = "scope" in inspect.signature(Depends).parameters
DB_FUNCTION = Depends(get_db, scope="function") if HAS_SCOPE else Depends(get_db)
app = FastAPI()
CHUNKS, DELAY = 5, 0.02


async def rows():
    for i in range(CHUNKS):
        await asyncio.sleep(DELAY)  # a slow producer: a page of rows at a time
        record("chunk")
        yield b'{"row": %d}\n' % i


# ANCHOR: routes
@app.get("/plain")
async def plain(db=Depends(get_db)):
    record("handler")
    return {"rows": CHUNKS}


@app.get("/stream")
async def stream(db=Depends(get_db)):  # scope="request", the default
    record("handler")
    return StreamingResponse(rows(), media_type="application/x-ndjson")


@app.get("/stream-function")
async def stream_function(db=DB_FUNCTION):  # cleanup before the response
    record("handler")
    return StreamingResponse(rows(), media_type="application/x-ndjson")
# ANCHOR_END: routes


class Sent:
    """Pure ASGI middleware: when the response starts and ends on the wire."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def sending(message):
            await send(message)
            if message["type"] == "http.response.start":
                record("response started")
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                record("response sent")

        await self.app(scope, receive, sending)


async def fetch(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    await reader.read()  # until the server closes
    writer.close()


async def main(args):
    global CHUNKS, DELAY
    CHUNKS, DELAY = args.chunks, args.delay_ms / 1000
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(Sent(app), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    rows_out = []
    paths = [("/plain", "request"), ("/stream", "request")]
    if HAS_SCOPE:
        paths.append(("/stream-function", "function"))
    for path, _ in paths:
        await fetch(port, path)  # warm-up: first-request costs are not the question
    await asyncio.sleep(0.05)
    for path, scope in paths:
        log.clear()
        begin = time.perf_counter()
        await fetch(port, path)
        await asyncio.sleep(0.05)  # a cleanup that runs late still gets logged
        at = {event: t for t, event in log}
        order = []
        for _, event in log:
            if not order or order[-1] != event:
                order.append(event)
        rows_out.append(
            {
                "route": path,
                "scope": scope,
                "order": order,
                "held_ms": (at["released"] - at["acquired"]) * 1000,
                "response_ms": (at["response sent"] - begin) * 1000,
                "release_after_sent_ms": (at["released"] - at["response sent"]) * 1000,
            }
        )
    server.should_exit = True
    await task
    print(json.dumps({"fastapi": fastapi.__version__, "has_scope": HAS_SCOPE, "rows": rows_out}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=20)
    args = parser.parse_args()
    if not 1 <= args.chunks <= 1000 or not 0 <= args.delay_ms <= 1000:
        parser.error("--chunks must be 1..=1000 and --delay-ms 0..=1000")
    asyncio.run(main(args))
