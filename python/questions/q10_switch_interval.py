"""Question 10: the convoy effect on real CPython.

An I/O-style thread makes short blocking calls (time.sleep releases the GIL,
like a socket read) with a little Python work between them, beside CPU-bound
threads, for each switch interval. Prints one JSON line: the I/O thread's
operations per second and its slowest operations (p99), per cell.

Run:  python questions/q10_switch_interval.py --window 0.5
"""

import argparse
import json
import sys
import threading
import time


def handler_work():
    # About as much Python as handling one small result.
    total = 0
    for i in range(100):
        total += i
    return total


# ANCHOR: convoy
def io_thread(wait, until, latencies):
    """A loop of short blocking calls, each timed from call to GIL regained."""
    while time.perf_counter() < until:
        start = time.perf_counter()
        time.sleep(wait)  # releases the GIL; getting it back is the convoy
        handler_work()
        latencies.append(time.perf_counter() - start)


def cpu_thread(stop):
    x = 0
    while not stop.is_set():
        for i in range(1000):
            x += i * i


def run(interval, cpu_threads, wait, window):
    sys.setswitchinterval(interval)
    stop = threading.Event()
    cpus = [threading.Thread(target=cpu_thread, args=(stop,)) for _ in range(cpu_threads)]
    for t in cpus:
        t.start()
    time.sleep(0.02)  # the CPU threads are running before the clock starts
    latencies = []
    started = time.perf_counter()
    io_thread(wait, started + window, latencies)
    elapsed = time.perf_counter() - started
    stop.set()
    for t in cpus:
        t.join()
    sys.setswitchinterval(0.005)
    latencies.sort()
    return {
        "interval_ms": interval * 1000,
        "cpu_threads": cpu_threads,
        "ops_per_sec": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }
# ANCHOR_END: convoy


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--wait-us", type=float, default=200)
    parser.add_argument("--cpu-threads", type=int, default=2)
    parser.add_argument("--intervals-ms", default="0.5,5,50")
    args = parser.parse_args()
    if not 0 < args.window <= 30 or not 0 <= args.wait_us <= 100_000:
        parser.error("--window must be in (0, 30] s and --wait-us in [0, 100000]")
    wait = args.wait_us / 1e6
    rows = [run(0.005, 0, wait, args.window)]
    for ms in args.intervals_ms.split(","):
        rows.append(run(float(ms) / 1000, args.cpu_threads, wait, args.window))
    print(json.dumps({"python": sys.version.split()[0], "rows": rows}))


if __name__ == "__main__":
    main()
