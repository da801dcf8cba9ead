"""Question 11, on a free-threaded CPython (python3.13t / 3.14t) when one is
on PATH: the same CPU-bound loop on one thread, then split over two.

Run:  python3.13t questions/q11_free_threading.py --loops 200000 --gil 0

`--gil 1` runs the same loop with the GIL switched back on in the same
build (`-X gil=1`, a fresh interpreter), so the two rows differ only in the
lock. The `gil` field is what the interpreter itself reports.
"""

import argparse
import json
import subprocess
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
    started, cpu = time.perf_counter(), time.process_time()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    # Wall time, and the process's CPU time over it: the cores it used.
    wall = time.perf_counter() - started
    return wall, (time.process_time() - cpu) / wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=1_000_000)
    parser.add_argument("--gil", choices=["0", "1"], help="run under -X gil=N")
    args = parser.parse_args()
    if args.gil is not None:
        again = [sys.executable, "-X", f"gil={args.gil}", __file__, "--loops", str(args.loops)]
        sys.stdout.write(subprocess.run(again, check=True, capture_output=True, text=True).stdout)
        return
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    timed(1, args.loops // 4)  # warm-up: the first run pays for start-up
    (one_s, one_cores), (two_s, two_cores) = timed(1, args.loops), timed(2, args.loops)
    print(json.dumps({"gil": gil, "one_s": one_s, "two_s": two_s,
                      "one_cores": one_cores, "two_cores": two_cores}))


if __name__ == "__main__":
    main()
