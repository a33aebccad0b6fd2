"""What the upgrade test compares: every read of the records upgrade_fixture.py sent,
as BASE_URL's API answers them, written to OUT as {"path": answer}. Run against the
server that wrote the fixture; the test asks the upgraded server the same paths.
Usage: upgrade_expected.py BASE_URL OUT"""

import json
import sys
import urllib.parse
import urllib.request

base, out = sys.argv[1], sys.argv[2]
WINDOW = "from=2026-11-01T00:00:00Z&to=2027-06-01T00:00:00Z"
answers = {}


def get(path):
    with urllib.request.urlopen(base + path) as r:
        body = json.load(r)
    answers[path] = body
    return body


traces = get(f"/api/v1/traces?{WINDOW}&limit=1000")
for t in traces["items"]:
    get(f"/api/v1/traces/{t['trace_id']}")
get(f"/api/v1/logs?{WINDOW}&limit=1000")
get(f"/api/v1/services")
# The listing also names the server's own metrics, which move while it runs: only the
# application's are compared.
metrics = get("/api/v1/metrics")
del answers["/api/v1/metrics"]
for m in metrics["items"]:
    if m.get("origin", "application") == "application":
        get(f"/api/v1/metrics/{urllib.parse.quote(m['name'])}/series?{WINDOW}&step=1h")
get(f"/api/v1/operations?{WINDOW}")
runs = get(f"/api/v1/agents/runs?{WINDOW}&limit=1000")
for r in runs["items"]:
    get(f"/api/v1/agents/runs/{urllib.parse.quote(r['correlation_id'])}")
# The server writes points of its own (fleet gauges) while it runs: compare the counts
# of what clients sent.
stats = get("/api/v1/stats")
answers["/api/v1/stats"] = stats = {k: stats[k] for k in ("spans", "logs", "events", "agent_actions")}

with open(out, "w") as f:
    json.dump(answers, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"{len(answers)} answers, {len(traces['items'])} traces, {stats}")
