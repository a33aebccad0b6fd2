-- Fleet snapshots, hash-chained: each row's hash is SHA-256 over the previous row's
-- hash and this row's canonical JSON body (see fleet.rs). The body is `text`, not
-- `jsonb`, so it is kept byte for byte. Rows are immutable: the trigger refuses updates
-- and deletes, and `audit verify` finds what a bypass changed.
CREATE TABLE fleet_snapshots (
    seq                    bigint PRIMARY KEY,
    snapshot_id            text   NOT NULL UNIQUE,
    collected_at_unix_nano bigint NOT NULL,
    body                   text   NOT NULL,
    prev_hash              text   NOT NULL,
    hash                   text   NOT NULL
);
CREATE INDEX fleet_snapshots_by_time ON fleet_snapshots (collected_at_unix_nano);

CREATE FUNCTION fleet_snapshots_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'fleet snapshots are immutable';
END;
$$;
CREATE TRIGGER fleet_snapshots_immutable BEFORE UPDATE OR DELETE ON fleet_snapshots
    FOR EACH ROW EXECUTE FUNCTION fleet_snapshots_immutable();
