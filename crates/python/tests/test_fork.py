"""After `os.fork()` the child has a working client of its own (the parent's background
thread is not in the child), and a `multiprocessing` child's records are delivered when
it exits, although it leaves through `os._exit`."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from conftest import Server, clean_environ, run_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="os.fork is POSIX")

FORK = """
import json, os, sys
from automagik_telemetry import AutomagikTelemetry

t = AutomagikTelemetry(project_name=sys.argv[1], endpoint=sys.argv[2], enabled=True,
                       flush_interval=60)
t.track_event("before.fork", {"pid": os.getpid()})
assert t.flush(10)
parent_install = t.install_id
pid = os.fork()
if pid == 0:
    t.track_event("in.child", {"pid": os.getpid()})
    ok = t.flush(10)
    stats = t.stats()
    same_install = t.install_id == parent_install
    os._exit(0 if ok and stats["exported"] == 1 and stats["queued"] == 1 and same_install else 3)
_, status = os.waitpid(pid, 0)
t.track_event("in.parent", {"pid": os.getpid()})
print(json.dumps({
    "child": pid,
    "parent": os.getpid(),
    "child_exit": os.waitstatus_to_exitcode(status),
    "parent_flushed": t.flush(10),
    "parent_exported": t.stats()["exported"],
}))
"""

MULTIPROCESSING = """
import json, multiprocessing, os, sys
from automagik_telemetry import AutomagikTelemetry

t = AutomagikTelemetry(project_name=sys.argv[1], endpoint=sys.argv[2], enabled=True,
                       flush_interval=60)
t.track_event("mp.parent")

def work(n):
    # No flush: the child leaves through os._exit; the SDK flushes at its exit.
    t.track_event("mp.child", {"n": n, "pid": os.getpid()})

if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=work, args=(n,)) for n in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print(json.dumps({"exit_codes": [p.exitcode for p in procs]}))
"""


def test_a_forked_child_sends_with_a_client_of_its_own(server: Server, service: str) -> None:
    """The child's record arrives, sent by a new pipeline (its counters start at zero,
    its install id is the parent's); the parent's client goes on working."""
    out = json.loads(run_python(FORK, clean_environ(), service, server.base_url).stdout)
    assert out["child_exit"] == 0, "the child flushed its record with its own client"
    assert out["parent_flushed"] is True
    assert out["parent_exported"] == 2
    (child,) = server.wait_events(service, "in.child", 1)
    assert child["attributes"]["pid"] == out["child"]
    (parent,) = server.wait_events(service, "in.parent", 1)
    assert parent["attributes"]["pid"] == out["parent"]
    assert len(server.events(service, "before.fork")) == 1, "the child sent nothing twice"


def test_multiprocessing_children_deliver_at_their_exit(server: Server, service: str) -> None:
    """Records of fork-started multiprocessing workers arrive without a flush."""
    out = json.loads(run_python(MULTIPROCESSING, clean_environ(), service, server.base_url).stdout)
    assert out["exit_codes"] == [0, 0]
    events = server.wait_events(service, "mp.child", 2)
    assert sorted(e["attributes"]["n"] for e in events) == [1, 2]
    server.wait_events(service, "mp.parent", 1)
