-- Fleet snapshots, hash-chained: each row's hash is SHA-256 over the previous row's
-- hash and this row's canonical JSON body (see fleet.rs). Rows are immutable: the
-- triggers refuse updates and deletes, and `audit verify` finds what a bypass changed.
CREATE TABLE fleet_snapshots (
    seq                    INTEGER PRIMARY KEY,
    snapshot_id            TEXT    NOT NULL UNIQUE,
    collected_at_unix_nano INTEGER NOT NULL,
    body                   TEXT    NOT NULL,
    prev_hash              TEXT    NOT NULL,
    hash                   TEXT    NOT NULL
);
CREATE INDEX fleet_snapshots_by_time ON fleet_snapshots (collected_at_unix_nano);

CREATE TRIGGER fleet_snapshots_no_update BEFORE UPDATE ON fleet_snapshots
BEGIN
    SELECT RAISE(ABORT, 'fleet snapshots are immutable');
END;
CREATE TRIGGER fleet_snapshots_no_delete BEFORE DELETE ON fleet_snapshots
BEGIN
    SELECT RAISE(ABORT, 'fleet snapshots are immutable');
END;
