-- Retention and erasure. Additive only: older replicas never read the new
-- tables, and the indexes only speed up deletes.

-- One row per `casemail erase`: what was removed and when, never whose data
-- it was in clear. address_sha256 (of the lower-cased address) lets an
-- admin show that an address was erased by hashing it again.
CREATE TABLE erasures (
    id             bigserial PRIMARY KEY,
    address_sha256 bytea NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    requested_by   text NOT NULL DEFAULT '',     -- who ran the command (OS user or -by)
    counts         jsonb NOT NULL DEFAULT '{}'   -- rows changed or removed, per kind
);
CREATE INDEX erasures_address_idx ON erasures (address_sha256);

-- Jobs that must run once a day across every instance (the retention job):
-- the instance holding the advisory lock checks finished_at and records
-- its run here.
CREATE TABLE maintenance_runs (
    job         text PRIMARY KEY,
    started_at  timestamptz,
    finished_at timestamptz,
    result      jsonb NOT NULL DEFAULT '{}',
    last_error  text NOT NULL DEFAULT ''
);

-- Raw mail and attachments expire by the arrival of their message.
CREATE INDEX messages_created_idx ON messages (created_at);
-- Deleting a case, a raw mail or a blob makes PostgreSQL look up the rows
-- that reference it (foreign keys, ON DELETE CASCADE / SET NULL); without
-- these, every deleted row would scan the whole referencing table.
CREATE INDEX messages_raw_idx ON messages (raw_sha256) WHERE raw_sha256 IS NOT NULL;
CREATE INDEX attachments_sha256_idx ON attachments (sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX cases_linked_idx ON cases (linked_case_id) WHERE linked_case_id IS NOT NULL;
CREATE INDEX cases_merged_idx ON cases (merged_into_id) WHERE merged_into_id IS NOT NULL;
CREATE INDEX outbox_case_idx ON outbox (case_id);
CREATE INDEX sent_message_ids_case_idx ON sent_message_ids (case_id);
CREATE INDEX ingested_message_row_idx ON ingested (message_row) WHERE message_row IS NOT NULL;
