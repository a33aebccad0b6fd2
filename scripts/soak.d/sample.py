"""The soak's sampler: every 10 s until a deadline, the server's resident memory
(VmRSS, and RssAnon), open file descriptors and threads from /proc, the stored counts
from GET /api/v1/stats, and the requests each generator has made (from their status
files); one line printed per sample and one CSV row appended. Each sample also scrapes
GET /metrics with the admin token, as a Prometheus server would, and keeps its memory
gauges: SQLite's heap (page caches, schemas, statements) and the allocator's bytes in use
and held free, so a growing resident set can be told apart.

Usage: sample.py --pid PID --base URL --start EPOCH --until EPOCH --csv FILE
                 --status-dir DIR [--every SECONDS] [--phase run|final] [--once]
The tokens are read from SOAK_READ_TOKEN and SOAK_ADMIN_TOKEN. Exits 3 when the server process is gone.
"""

import argparse
import csv
import datetime
import json
import os
import sys
import time

from soaklib import Status, get, read_statuses

GENERATORS = ["python-http", "python-grpc", "node-http-json", "hostile", "dashboard"]
COLUMNS = (["phase", "elapsed_s", "time_utc", "rss_kib", "rss_anon_kib", "fds", "threads",
            "sqlite_kib", "heap_in_use_kib", "heap_free_kib",
            "spans", "logs", "metric_points", "db_bytes"]
           + [f"requests_{g}" for g in GENERATORS] + ["unexpected", "query_p95_ms"])


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--start", type=float, required=True)
    p.add_argument("--until", type=float, required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--status-dir", required=True)
    p.add_argument("--every", type=float, default=10.0)
    p.add_argument("--phase", default="run")
    p.add_argument("--once", action="store_true")
    return p.parse_args()


def proc_status(pid):
    """VmRSS, RssAnon (KiB) and Threads of `pid`; None when it is gone."""
    fields = {}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.split()[0] if value.split() else ""
        if fields.get("State", "").startswith("Z"):
            return None
        return int(fields.get("VmRSS", 0)), int(fields.get("RssAnon", 0)), int(fields.get("Threads", 0))
    except (OSError, ValueError):
        return None


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


MEMORY_GAUGES = {"sqlite_kib": "automagik_telemetry_sqlite_memory_bytes",
                 "heap_in_use_kib": "automagik_telemetry_heap_in_use_bytes",
                 "heap_free_kib": "automagik_telemetry_heap_free_bytes"}


def memory_gauges(text):
    """The memory gauges of a /metrics body, in KiB ("" for one not exposed)."""
    values = {}
    for line in text.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(" ")
        values[name] = value
    out = {}
    for column, name in MEMORY_GAUGES.items():
        try:
            out[column] = int(float(values[name])) // 1024
        except (KeyError, ValueError):
            out[column] = ""
    return out


def mib(kib_or_bytes, bytes_=False):
    v = kib_or_bytes / (1024 * 1024 if bytes_ else 1024)
    return f"{v:.1f} MiB"


def n(v):
    return f"{v:,}" if isinstance(v, int) else "?"


def sample(args, sampler):
    proc = proc_status(args.pid)
    fds = open_fds(args.pid)
    if proc is None or fds is None:
        return None
    rss, anon, threads = proc
    status, body, _ = get(f"{args.base}/api/v1/stats", os.environ.get("SOAK_READ_TOKEN", ""))
    sampler.request()
    stats = {}
    if status == 200:
        try:
            stats = json.loads(body)
        except ValueError:
            sampler.fail("GET /api/v1/stats (sampler): not JSON")
    else:
        sampler.fail(f"GET /api/v1/stats (sampler): {status or 'connection failed'}")
    # A Prometheus scrape every sample, as a monitoring system would do.
    status, body, _ = get(f"{args.base}/metrics", os.environ.get("SOAK_ADMIN_TOKEN", ""))
    sampler.request()
    if status != 200 or b"automagik_telemetry_" not in body:
        sampler.fail(f"GET /metrics (sampler): {status or 'connection failed'}")
    memory = memory_gauges(body or b"")
    gens = read_statuses(args.status_dir)
    now = time.time()
    row = {
        "phase": args.phase,
        "elapsed_s": round(now - args.start),
        "time_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rss_kib": rss, "rss_anon_kib": anon, "fds": fds, "threads": threads,
        **memory,
        "spans": stats.get("spans", ""), "logs": stats.get("logs", ""),
        "metric_points": stats.get("metric_points", ""), "db_bytes": stats.get("bytes_on_disk", ""),
        "unexpected": sum(sum(g.get("unexpected", {}).values()) for g in gens.values()),
        "query_p95_ms": gens.get("dashboard", {}).get("extra", {}).get("query p95 ms (last 10 s)", ""),
    }
    for g in GENERATORS:
        row[f"requests_{g}"] = gens[g]["requests"] if g in gens else ""
    new = not os.path.exists(args.csv)
    with open(args.csv, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        w.writerow(row)
    m, s = divmod(int(row["elapsed_s"]), 60)
    label = "final" if args.phase == "final" else f"{m:3d}:{s:02d}"
    db = mib(row["db_bytes"], bytes_=True) if isinstance(row["db_bytes"], int) else "?"
    reqs = ", ".join(f"{g} {n(gens[g]['requests'])}" for g in GENERATORS if g in gens)
    p95 = row["query_p95_ms"]
    parts = [f"{k.removesuffix('_kib').replace('_', ' ')} {mib(v)}" for k, v in memory.items() if v != ""]
    print(f"[{label}] rss {mib(rss)} (anon {mib(anon)}; {', '.join(parts) or 'no gauges'})  fds {fds}  threads {threads} | "
          f"stored spans {n(row['spans'])} logs {n(row['logs'])} points {n(row['metric_points'])} (db {db}) | "
          f"requests {reqs or '-'} | query p95 {p95 if p95 != '' else '-'} ms | unexpected {row['unexpected']}",
          flush=True)
    return row


def main():
    args = parse_args()
    sampler = Status(args.status_dir, f"sampler-{args.phase}").start()
    try:
        if args.once:
            return 0 if sample(args, sampler) else 3
        k = 0
        while True:
            if sample(args, sampler) is None:
                print("the server process is gone", file=sys.stderr, flush=True)
                return 3
            k += 1
            next_at = args.start + k * args.every
            if next_at >= args.until:
                # One last sample at the deadline itself, if it is not the one just taken.
                if time.time() < args.until - 1:
                    time.sleep(max(0.0, args.until - time.time()))
                    if sample(args, sampler) is None:
                        return 3
                return 0
            time.sleep(max(0.0, next_at - time.time()))
    finally:
        sampler.finish()


if __name__ == "__main__":
    sys.exit(main())
