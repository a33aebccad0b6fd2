"""With a spool directory, records tracked while the endpoint is down wait on disk and
arrive once it is back: an offline program loses nothing, even across a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import Server, clean_environ, free_port, run_python

from automagik_telemetry import AutomagikTelemetry


def test_records_spooled_while_the_endpoint_is_down_arrive_when_it_is_up(
    tmp_path: Path, service: str
) -> None:
    """The failed batch is counted as spooled and written to disk; once `serve` listens on
    the endpoint, the next flush delivers it."""
    port = free_port()
    spool = tmp_path / "spool"
    t = AutomagikTelemetry(
        project_name=service,
        endpoint=f"http://127.0.0.1:{port}",
        enabled=True,
        spool_dir=spool,
        max_retries=0,
        timeout=2.0,
        flush_interval=60.0,
    )
    for i in range(5):
        t.track_event("offline.event", {"i": i})
    assert t.flush(10) is True, "the batch was handled: spooled"
    stats = t.stats()
    assert (stats["spooled"], stats["exported"], stats["dropped_total"]) == (5, 0, 0)
    assert [p for p in spool.rglob("*") if p.is_file()], "the batch is on disk"
    server = Server(tmp_path / "serve", port=port).start()
    try:
        assert t.flush(10) is True
        events = server.wait_events(service, "offline.event", 5)
        assert sorted(e["attributes"]["i"] for e in events) == [0, 1, 2, 3, 4]
        assert t.stats()["exported"] == 5
    finally:
        t.shutdown(2)
        server.stop()


def test_a_program_that_ran_offline_is_delivered_by_the_next_one(
    tmp_path: Path, service: str
) -> None:
    """A process exits with its records spooled; the next process with the same spool
    directory sends them when the endpoint is up."""
    port = free_port()
    spool = tmp_path / "spool"
    program = """
import json, sys
from automagik_telemetry import AutomagikTelemetry
t = AutomagikTelemetry(project_name=sys.argv[1], endpoint=sys.argv[2], enabled=True,
                       spool_dir=sys.argv[3], max_retries=0, timeout=2.0, exit_timeout=10)
if sys.argv[4] == "track":
    t.track_event("from.the.offline.run", {"run": 1})
print(json.dumps({"flushed": t.flush(10), "stats": t.stats()}))
"""
    env = clean_environ()
    endpoint = f"http://127.0.0.1:{port}"
    offline = json.loads(
        run_python(program, env, service, endpoint, str(spool), "track").stdout
    )
    assert offline["stats"]["spooled"] == 1
    server = Server(tmp_path / "serve", port=port).start()
    try:
        online = json.loads(run_python(program, env, service, endpoint, str(spool), "-").stdout)
        assert online["flushed"] is True
        assert online["stats"]["exported"] == 1, "the next run sent the spooled record"
        (event,) = server.wait_events(service, "from.the.offline.run", 1)
        assert event["attributes"]["run"] == 1
    finally:
        server.stop()
