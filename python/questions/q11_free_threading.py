"""Question 11, on a free-threaded CPython (python3.13t / 3.14t) when one is
on PATH: the same CPU-bound loop on one thread, then split over two.

Run:  python3.13t questions/q11_free_threading.py --loops 200000
"""

import argparse
import json
import sys
import threading
import time


def burn(n):
    x = 0
    for i in range(n):
        x += i * i
    return x


def timed(threads, loops):
    workers = [threading.Thread(target=burn, args=(loops // threads,)) for _ in range(threads)]
    started = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=1_000_000)
    args = parser.parse_args()
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(json.dumps({"gil": gil, "one_s": timed(1, args.loops), "two_s": timed(2, args.loops)}))


if __name__ == "__main__":
    main()
