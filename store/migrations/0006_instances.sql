-- Running casemail instances and their heartbeats. An outbox row claimed by
-- an instance whose heartbeat stopped (it crashed or was killed) can be
-- taken over at once instead of after its lease.
CREATE TABLE instances (
    id           text PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE outbox ADD COLUMN locked_by text NOT NULL DEFAULT '';
