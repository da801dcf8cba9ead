"""Question 14: what happens to my handler when the client disconnects?

A FastAPI app on a real uvicorn (in this process, loopback): a handler that
writes a row, awaits, then writes a second row; with and without a
transaction; as a plain route and inside a StreamingResponse. The client
sends the request and hangs up during the await. Prints one JSON line: per
route, whether the handler saw CancelledError, and which rows are in the
database afterwards.

Run:  python questions/q14_disconnect.py --pause-ms 300 --hangup-ms 100
"""

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import tempfile

import fastapi
import starlette
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()
DB = os.path.join(tempfile.mkdtemp(), "q14.sqlite")
PAUSE = 0.3
seen = []  # what the handler got to


def connect():
    return sqlite3.connect(DB, isolation_level=None)  # we say BEGIN ourselves


# ANCHOR: handler
async def write_twice(tx: bool):
    db = connect()
    try:
        if tx:
            db.execute("BEGIN")
        db.execute("INSERT INTO rows(step) VALUES ('first')")
        await asyncio.sleep(PAUSE)  # an upstream call; the client hangs up now
        db.execute("INSERT INTO rows(step) VALUES ('second')")
        if tx:
            db.execute("COMMIT")
        seen.append("finished")
    except asyncio.CancelledError:
        seen.append("CancelledError")
        raise
    finally:
        db.close()  # an open transaction is rolled back here


@app.post("/plain")
async def plain(tx: bool = False):
    await write_twice(tx)
    return {"ok": True}
# ANCHOR_END: handler


@app.post("/stream")
async def stream(tx: bool = False):
    async def body():
        yield b"started\n"
        await write_twice(tx)
        yield b"done\n"

    return StreamingResponse(body())


async def hang_up_early(port, path, hangup):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    await writer.drain()
    await asyncio.sleep(hangup)
    writer.close()  # the client gives up


async def main(args):
    global PAUSE
    PAUSE = args.pause_ms / 1000
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    rows = []
    for route in ["/plain", "/stream"]:
        for tx in [False, True]:
            db = connect()
            db.execute("DROP TABLE IF EXISTS rows")
            db.execute("CREATE TABLE rows (step TEXT)")
            seen.clear()
            await hang_up_early(port, f"{route}?tx={str(tx).lower()}", args.hangup_ms / 1000)
            await asyncio.sleep(PAUSE + 0.2)  # long enough for the handler to finish
            written = [r[0] for r in db.execute("SELECT step FROM rows ORDER BY rowid")]
            db.close()
            rows.append(
                {
                    "route": route,
                    "tx": tx,
                    "handler": seen[-1] if seen else "still running",
                    "rows": written,
                }
            )
    server.should_exit = True
    await task
    print(
        json.dumps(
            {
                "fastapi": fastapi.__version__,
                "starlette": starlette.__version__,
                "uvicorn": uvicorn.__version__,
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pause-ms", type=float, default=300)
    parser.add_argument("--hangup-ms", type=float, default=100)
    args = parser.parse_args()
    if not 0 < args.hangup_ms < args.pause_ms <= 5000:
        parser.error("need 0 < --hangup-ms < --pause-ms <= 5000")
    asyncio.run(main(args))
