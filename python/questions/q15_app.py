"""Question 15's WSGI app for gunicorn: a big module-level table (what
--preload shares copy-on-write), a slow route (what --timeout kills) and a
leaking route (what --max-requests recycles).

    cd python && gunicorn questions.q15_app:app --workers 4 --preload

WW_Q15_ROWS (default 500000) sizes the table; each /leak keeps 1 MiB.
"""

import json
import os
import time

# ANCHOR: app
ROWS = int(os.environ.get("WW_Q15_ROWS", "500000"))
TABLE = [f"row {i}" for i in range(ROWS)]  # loaded once: a model, a lookup table
LEAK = []  # a bug: grows on every request and is never emptied


def app(environ, start_response):
    path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
    if path == "/slow":
        time.sleep(float(query.removeprefix("s=") or 1))  # a request that takes too long
    elif path == "/leak":
        LEAK.append(bytearray(1024 * 1024))  # 1 MiB kept forever
    body = json.dumps({"pid": os.getpid(), "rows": len(TABLE), "leaked_mib": len(LEAK)})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]
# ANCHOR_END: app
