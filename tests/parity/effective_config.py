"""The effective configuration from Rust, Python and Node.js for the same environment.

Each language's program runs in a process whose environment is exactly the case's (plus
PATH and a HOME of its own) and prints one JSON line: the Rust SDK's example
`effective_config`, `automagik_telemetry.effective_config()` in the venv's Python, and
`new AutomagikTelemetry({ flushOnExit: false }).effectiveConfig()` in a folder where the
Node.js package is installed. A malformed variable prints `{"error": ...}` in each. The
three must be equal, case by case; the differences are printed when they are not. One
thing is set aside: the `process.runtime.*` resource attributes a package adds about its
own runtime (the Node.js package names Node.js and its version), which the Rust SDK has
no equivalent of; each program's are printed.

Usage: effective_config.py RUST_EXAMPLE PYTHON NODE_APP_DIR
"""

import json
import os
import subprocess
import sys
import tempfile

PYTHON_PROGRAM = """
import json
import automagik_telemetry
try:
    print(json.dumps(automagik_telemetry.effective_config()))
except ValueError as e:
    print(json.dumps({"error": str(e)}))
"""

NODE_PROGRAM = """
const { AutomagikTelemetry } = require('@automagik/telemetry');
let out;
try {
  const telemetry = new AutomagikTelemetry({ flushOnExit: false });
  out = telemetry.effectiveConfig();
  telemetry.shutdown(100);
} catch (e) {
  out = { error: e.message };
}
console.log(JSON.stringify(out));
"""

# SPEC section 2: every variable the SDK reads, with values other than the defaults.
EVERY_VARIABLE = {
    "AUTOMAGIK_TELEMETRY_ENABLED": "true",
    "AUTOMAGIK_TELEMETRY_ENDPOINT": "http://collector.example:4318/",
    "AUTOMAGIK_TELEMETRY_BACKEND": "otlp-json",
    "AUTOMAGIK_TELEMETRY_BATCH_SIZE": "7",
    "AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL": "250ms",
    "AUTOMAGIK_TELEMETRY_QUEUE_SIZE": "64",
    "AUTOMAGIK_TELEMETRY_COMPRESSION": "zstd",
    "AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD": "0",
    "AUTOMAGIK_TELEMETRY_MAX_RETRIES": "5",
    "AUTOMAGIK_TELEMETRY_RETRY_BACKOFF": "2s",
    "AUTOMAGIK_TELEMETRY_TIMEOUT": "3",
    "AUTOMAGIK_TELEMETRY_SPOOL_DIR": "/tmp/automagik-parity-spool",
    "AUTOMAGIK_TELEMETRY_VERBOSE": "true",
    "AUTOMAGIK_TELEMETRY_FILE_PATH": "/tmp/automagik-parity.jsonl",
    "AUTOMAGIK_TELEMETRY_KAFKA_BROKERS": "broker-1:9092,broker-2:9092",
    "AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT": "http://clickhouse.example:8123/",
    "AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE": "parity",
    "AUTOMAGIK_TELEMETRY_CLICKHOUSE_USER": "writer",
    "AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD": "not-printed",
    "OTEL_SERVICE_NAME": "parity-service",
    "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging,team=platform",
    "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme,authorization=Bearer%20secret",
}

CASES = {
    "nothing set": {},
    "consent given": {"AUTOMAGIK_TELEMETRY_ENABLED": "true"},
    "every SDK variable": EVERY_VARIABLE,
    "the OpenTelemetry variables": {
        "AUTOMAGIK_TELEMETRY_ENABLED": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel.example:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
        "OTEL_SERVICE_NAME": "from-otel",
    },
    "DO_NOT_TRACK over consent": {"AUTOMAGIK_TELEMETRY_ENABLED": "true", "DO_NOT_TRACK": "1"},
    "OTEL_SDK_DISABLED": {"AUTOMAGIK_TELEMETRY_ENABLED": "true", "OTEL_SDK_DISABLED": "true"},
    "a development environment": {"ENVIRONMENT": "development"},
    "CI": {"CI": "true"},
    "the opt-out file": {"AUTOMAGIK_TELEMETRY_ENABLED": "true", "__opt_out_file__": "1"},
    "a malformed batch size": {"AUTOMAGIK_TELEMETRY_BATCH_SIZE": "many"},
    "a malformed consent": {"AUTOMAGIK_TELEMETRY_ENABLED": "perhaps"},
    "a malformed flush interval": {"AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL": "soon"},
}


def run(argv, env, cwd=None):
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    lines = [line for line in p.stdout.splitlines() if line.strip()]
    if not lines:
        raise SystemExit(f"{argv[0]} printed nothing (exit {p.returncode}): {p.stderr.strip()}")
    return json.loads(lines[-1])


RUNTIME = "process.runtime."


def runtime_apart(printed):
    """The printed configuration without the host's own runtime attributes, and those."""
    own = [kv for kv in printed.get("resource_attributes", []) if kv[0].startswith(RUNTIME)]
    if "resource_attributes" in printed:
        printed = dict(printed)
        printed["resource_attributes"] = [
            kv for kv in printed["resource_attributes"] if not kv[0].startswith(RUNTIME)
        ]
    return printed, own


def main():
    rust, python, node_app = sys.argv[1:4]
    failures = 0
    for name, variables in CASES.items():
        with tempfile.TemporaryDirectory(prefix="automagik-parity-") as home:
            env = {"PATH": os.environ["PATH"], "HOME": home, "XDG_CONFIG_HOME": home,
                   "XDG_STATE_HOME": home, "XDG_DATA_HOME": home}
            if "LLVM_PROFILE_FILE" in os.environ:  # an instrumented build writes its profile there
                env["LLVM_PROFILE_FILE"] = os.environ["LLVM_PROFILE_FILE"]
            for k, v in variables.items():
                if k == "__opt_out_file__":
                    open(os.path.join(home, ".automagik-no-telemetry"), "w").close()
                else:
                    env[k] = v
            printed, runtimes = {}, {}
            for lang, out in (
                ("rust", run([rust], env)),
                ("python", run([python, "-c", PYTHON_PROGRAM], env)),
                ("node", run(["node", "-e", NODE_PROGRAM], env, cwd=node_app)),
            ):
                printed[lang], runtimes[lang] = runtime_apart(out)
        if printed["rust"] == printed["python"] == printed["node"]:
            summary = printed["rust"].get("error") or printed["rust"].get("consent")
            own = ", ".join(f"{lang} {dict(r)}" for lang, r in runtimes.items() if r)
            print(f"ok    {name}: {len(printed['rust'])} keys equal ({summary})"
                  + (f"; runtime attributes set aside: {own}" if own else ""))
            continue
        failures += 1
        print(f"FAIL  {name}")
        keys = sorted(set().union(*(p.keys() for p in printed.values())))
        for key in keys:
            values = {lang: p.get(key, "<missing>") for lang, p in printed.items()}
            if len({json.dumps(v, sort_keys=True) for v in values.values()}) > 1:
                print(f"      {key}: " + ", ".join(f"{lang}={json.dumps(v)}" for lang, v in values.items()))
    print(f"parity: {len(CASES) - failures} equal, {failures} different")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
