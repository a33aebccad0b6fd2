"""The soak's summary and verdict, from the sampler's CSV, the generators' final status
files and what the driver noted (how the server stopped, generators that did not stop).
Prints the summary and the rows of the table in docs/PERFORMANCE.md (both also written
to --summary) and exits 1 on any unexpected failure or when memory or file descriptors
grew, else 0.

Usage: report.py --csv FILE --status-dir DIR --minutes N --server-exit CODE
                 --server-stop-seconds S --server-stop-limit S --notes FILE --summary FILE
                 [--rss-growth-percent 10] [--fd-growth 10]

Verdict: the median of the samples of the second minute (60 s < t <= 120 s; the first
minute is the warm-up) against the median of the samples of the last minute. "flat"
when resident memory grew by less than --rss-growth-percent and open file descriptors
by less than --fd-growth, "growing" otherwise. A run shorter than 3 minutes has no last
minute apart from the second one and gets no verdict.
"""

import argparse
import csv
import os
import platform
import statistics
import sys

from soaklib import read_statuses


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csv", required=True)
    p.add_argument("--status-dir", required=True)
    p.add_argument("--minutes", type=int, required=True)
    p.add_argument("--server-exit", required=True)
    p.add_argument("--server-stop-seconds", type=float, required=True)
    p.add_argument("--server-stop-limit", type=float, required=True)
    p.add_argument("--notes", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--rss-growth-percent", type=float, default=10.0)
    p.add_argument("--fd-growth", type=float, default=10.0)
    return p.parse_args()


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}){mem}, Linux {platform.release()}"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def num(v):
    return f"{v:,}"


def integer(row, key):
    try:
        return int(row[key])
    except (KeyError, TypeError, ValueError):
        return None


def number(row, key):
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return None


def merged(gens, key):
    """`key` ("expected", "retried", "unexpected") of every generator, by "name: kind"."""
    out = {}
    for name, g in gens.items():
        for kind, count in g.get(key, {}).items():
            out[f"{name}: {kind}"] = out.get(f"{name}: {kind}", 0) + count
    return out


def main():
    args = parse_args()
    out = []
    say = out.append
    unexpected = []
    row = {}  # the figures of the table in docs/PERFORMANCE.md

    rows = []
    if os.path.exists(args.csv):
        with open(args.csv, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    run = [r for r in rows if r["phase"] == "run" and integer(r, "rss_kib") is not None]
    final = [r for r in rows if r["phase"] == "final" and integer(r, "spans") is not None]
    gens = read_statuses(args.status_dir)
    notes = []
    if os.path.exists(args.notes):
        with open(args.notes, encoding="utf-8") as f:
            notes = [line.strip() for line in f if line.strip()]

    length = integer(run[-1], "elapsed_s") if run else 0
    started = run[0]["time_utc"] if run else "?"
    say(f"Soak: {started}, {platform.node()}: {machine()}, {args.minutes} min "
        f"({len(run)} samples over {length} s)")

    verdict = "no samples"
    if run:
        first, last = run[0], run[-1]
        after = [r for r in run if integer(r, "elapsed_s") > 60] or run
        rss_after = [integer(r, "rss_kib") for r in after]
        fds_after = [integer(r, "fds") for r in after]
        say(f"resident memory: first {mib(integer(first, 'rss_kib'))}, last {mib(integer(last, 'rss_kib'))}; "
            f"after the first minute min {mib(min(rss_after))}, max {mib(max(rss_after))}")
        parts = []
        for column, label in (("sqlite_kib", "SQLite's heap"), ("heap_in_use_kib", "allocator in use"),
                              ("heap_free_kib", "allocator holding free")):
            values = [integer(r, column) for r in after if integer(r, column) is not None]
            if values:
                parts.append(f"{label} {mib(values[0])} -> {mib(values[-1])} (max {mib(max(values))})")
        if parts:
            say("of which, after the first minute: " + "; ".join(parts))
            row["memory_parts"] = "; ".join(parts)
        say(f"open file descriptors: first {integer(first, 'fds')}, last {integer(last, 'fds')}; "
            f"after the first minute min {min(fds_after)}, max {max(fds_after)}")
        say(f"threads: first {integer(first, 'threads')}, last {integer(last, 'threads')}")
        row["memory"] = (f"first {mib(integer(first, 'rss_kib'))}, last {mib(integer(last, 'rss_kib'))}; "
                         f"after the warm-up minute min {mib(min(rss_after))}, max {mib(max(rss_after))}")
        row["fds"] = (f"first {integer(first, 'fds')}, last {integer(last, 'fds')}; after the warm-up minute "
                      f"{min(fds_after)} to {max(fds_after)}")
        second = [r for r in run if 60 < integer(r, "elapsed_s") <= 120]
        end = [r for r in run if integer(r, "elapsed_s") > length - 60]
        if length < 180 or not second:
            verdict = "too short for a verdict (at least 3 minutes)"
        else:
            base_rss = statistics.median(integer(r, "rss_kib") for r in second)
            end_rss = statistics.median(integer(r, "rss_kib") for r in end)
            base_fds = statistics.median(integer(r, "fds") for r in second)
            end_fds = statistics.median(integer(r, "fds") for r in end)
            growth = (end_rss - base_rss) / base_rss * 100 if base_rss else 0.0
            fd_growth = end_fds - base_fds
            say(f"second minute -> last minute (medians): resident memory {mib(base_rss)} -> {mib(end_rss)} "
                f"({growth:+.1f} %, limit {args.rss_growth_percent:g} %), open file descriptors "
                f"{base_fds:g} -> {end_fds:g} ({fd_growth:+g}, limit {args.fd_growth:g})")
            row["memory"] += f"; second -> last minute (medians) {mib(base_rss)} -> {mib(end_rss)} ({growth:+.1f} %)"
            row["fds"] += f"; second -> last minute (medians) {base_fds:g} -> {end_fds:g} ({fd_growth:+g})"
            flat = growth < args.rss_growth_percent and fd_growth < args.fd_growth
            verdict = "flat" if flat else "growing"
        p95s = [v for v in (number(r, "query_p95_ms") for r in run) if v is not None]
        if p95s:
            say(f"dashboard query latency, p95 of each 10 s: median {statistics.median(p95s):.0f} ms, "
                f"highest {max(p95s):.0f} ms")
            row["queries"] = (f"p95 of each 10 s: median {statistics.median(p95s):.0f} ms, highest "
                              f"{max(p95s):.0f} ms; slowest request "
                              f"{gens.get('dashboard', {}).get('extra', {}).get('slowest query', '?')}")

    acknowledged, sent = {}, {}
    for g in gens.values():
        for k, v in g.get("acknowledged", {}).items():
            acknowledged[k] = acknowledged.get(k, 0) + v
        for k, v in g.get("sent", {}).items():
            sent[k] = sent.get(k, 0) + v
    if final:
        stored = final[-1]
        spans, logs, points = (integer(stored, k) for k in ("spans", "logs", "metric_points"))
        db = integer(stored, "db_bytes") or 0
        say(f"stored at the end: {num(spans)} spans, {num(logs)} log records, {num(points)} metric points; "
            f"database {db / 1024 / 1024:.0f} MiB")
        say(f"acknowledged to the clients: {num(acknowledged.get('spans', 0))} spans, "
            f"{num(acknowledged.get('logs', 0))} log records, {num(acknowledged.get('points', 0))} metric points "
            "(cumulative points are stored as increases)")
        for signal, count in (("spans", spans), ("logs", logs)):
            if count < acknowledged.get(signal, 0):
                unexpected.append(f"{num(acknowledged[signal] - count)} acknowledged {signal} are not in the store")
        seconds = max(length, 1)
        rates = (f"{spans / seconds:,.0f} spans/s, {logs / seconds:,.0f} log records/s, "
                 f"{points / seconds:,.0f} metric points/s")
        say(f"average stored rate: {rates}")
        row["load"] = rates
        row["stored"] = (f"{num(spans)} spans, {num(logs)} log records, {num(points)} metric points; "
                         f"database {db / 1024 / 1024:.0f} MiB; every acknowledged span and log record stored"
                         if not any("not in the store" in u for u in unexpected) else "items missing: see below")
    else:
        unexpected.append("no final sample: the stored counts after the generators stopped are unknown")

    say("generators (items acknowledged/sent):")
    for name, g in sorted(gens.items()):
        if name.startswith("sampler"):
            continue
        items = ", ".join(f"{k} {num(v)}/{num(g.get('sent', {}).get(k, 0))}"
                          for k, v in sorted(g.get("acknowledged", {}).items()))
        extra = "; ".join(f"{k}: {v}" for k, v in sorted(g.get("extra", {}).items()))
        say(f"  {name}: {num(g.get('requests', 0))} requests" + (f", {items}" if items else "")
            + (f"; {extra}" if extra else ""))
        if not g.get("done"):
            unexpected.append(f"{name} did not finish (its last status is not final)")

    def table(title, table_rows):
        say(f"{title}:" + ("" if table_rows else " none"))
        for kind, count in sorted(table_rows.items()):
            say(f"  {num(count):>8}  {kind}")

    expected = merged(gens, "expected")
    failures = merged(gens, "unexpected")
    table("expected refusals (answered as they should be)", expected)
    table("retried by a client, then delivered", merged(gens, "retried"))
    table("unexpected failures seen by the generators", failures)

    say(f"server stop: SIGTERM, exit status {args.server_exit} after {args.server_stop_seconds:.1f} s "
        f"(limit {args.server_stop_limit:g} s)")
    if args.server_exit != "0":
        unexpected.append(f"the server's exit status after SIGTERM was {args.server_exit}")
    unexpected.extend(notes)
    if unexpected:
        say("other unexpected outcomes:")
        for u in unexpected:
            say(f"  {u}")

    failed = bool(failures) or bool(unexpected)
    say(f"verdict: {verdict}" + ("; unexpected failures: exit 1" if failed else ""))

    row["refusals"] = f"{num(sum(expected.values()))} in {len(expected)} kinds, each answered as documented"
    row["failures"] = (f"{num(sum(failures.values()) + len(unexpected))}" if failed else "none")
    row["stop"] = f"{args.server_stop_seconds:.1f} s, exit status {args.server_exit}"
    say("")
    say(f"For docs/PERFORMANCE.md (### Soak: {started[:10]}, <machine>, {args.minutes} min):")
    say("| what | figure |")
    say("|---|---|")
    for key, label in (("load", "average stored rate"), ("stored", "stored at the end"),
                       ("memory", "server resident memory"),
                       ("memory_parts", "of which SQLite and the allocator"), ("fds", "server open file descriptors"),
                       ("queries", "dashboard query latency"), ("refusals", "expected refusals"),
                       ("failures", "unexpected failures"), ("stop", "stop on SIGTERM")):
        say(f"| {label} | {row.get(key, '?')} |")
    say(f"| verdict | {verdict} |")

    text = "\n".join(out)
    print(text)
    with open(args.summary, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return 1 if failed or verdict in ("growing", "no samples") else 0


if __name__ == "__main__":
    sys.exit(main())
