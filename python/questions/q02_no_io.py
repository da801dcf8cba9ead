"""Question 2: `def` or `async def` for an endpoint that does no I/O?
The same small computation twice: as `async def` it runs on the event loop;
as `def` FastAPI sends each call to its threadpool and back.
lab/questions/q02_def_or_async.rs measures the requests per second of each.

    cd python && uvicorn questions.q02_no_io:app --port 8000
"""

from fastapi import FastAPI

app = FastAPI(title="Question 2: def or async def without I/O")


def price(n: int) -> int:
    """A few microseconds of pure-Python work: no I/O, nothing to await."""
    return sum(i * i % 7 for i in range(n))


# ANCHOR: endpoints
@app.get("/async")
async def on_the_loop(n: int = 100):
    return {"price": price(n)}  # runs on the event loop, between two awaits


@app.get("/def")
def in_the_threadpool(n: int = 100):
    return {"price": price(n)}  # FastAPI hands it to a thread and waits for it
# ANCHOR_END: endpoints
