"""The official ClickHouse Python client (clickhouse-connect, HTTP) against the adapter:
creates a table, INSERTs in its native binary format (plain and gzip-compressed), and
SELECTs back with a server-side query parameter. Exits non-zero on any difference.

Usage: official_client.py PORT
"""

import datetime
import sys

import clickhouse_connect

port = int(sys.argv[1])
rows = [
    [1, "ünïcode ✓", datetime.datetime(2026, 1, 1, 0, 0, 0, 123456), {"k": "v"}, float("nan")],
    [2, "", datetime.datetime(2026, 1, 2), {}, 0.25],
]
for compress in (False, "gzip"):
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=port, username="default", password="", compress=compress
    )
    table = f"official.t_{'gzip' if compress else 'plain'}"
    client.command("CREATE DATABASE IF NOT EXISTS official")
    client.command(
        f"CREATE TABLE {table} (id UInt64, name String, at DateTime64(6), "
        "attrs Map(String, String), ratio Float64) ENGINE = MergeTree ORDER BY id"
    )
    client.insert(table, rows, column_names=["id", "name", "at", "attrs", "ratio"])
    got = client.query(f"SELECT id, name, at, attrs, ratio FROM {table} ORDER BY id").result_rows
    assert [r[:4] for r in got] == [tuple(r[:4]) for r in rows], got
    assert got[0][4] != got[0][4] and got[1][4] == 0.25, got
    found = client.query(
        f"SELECT id FROM {table} WHERE name = {{name:String}}", parameters={"name": "ünïcode ✓"}
    ).result_rows
    assert found == [(1,)], found
print("ok")
