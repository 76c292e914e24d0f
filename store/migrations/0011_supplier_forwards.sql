-- Suppliers' clocks: every forward of a case to a supplier, with the
-- contract's due times, the supplier's answer and reference, and the
-- reminders given. Additive only: older binaries never read the table.
CREATE TABLE supplier_forwards (
    id               bigserial PRIMARY KEY,
    case_id          bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    supplier         text NOT NULL,
    contract         text NOT NULL DEFAULT '',
    address          text NOT NULL,           -- where the forward went
    forwarded_at     timestamptz NOT NULL,
    response_due     timestamptz,             -- the contract's response time (NULL: none)
    resolution_due   timestamptz,
    answered_at      timestamptz,             -- the supplier's first answer: their clock stops
    last_answer_at   timestamptz,
    reference        text NOT NULL DEFAULT '', -- the supplier's own ticket number
    reminders        int NOT NULL DEFAULT 0,  -- reminders sent to the supplier
    last_reminder_at timestamptz,
    owner_told_at    timestamptz,             -- the owner was told the supplier is late
    -- When the supplier check next has something to do (NULL: nothing).
    next_check_at    timestamptz,
    pauses_sla       boolean NOT NULL DEFAULT false, -- the case's own SLA waits meanwhile
    ended_at         timestamptz,             -- replaced by a new forward, or the case left the supplier
    ended_why        text NOT NULL DEFAULT ''
);
-- A case waits on at most one forward at a time.
CREATE UNIQUE INDEX supplier_forwards_current ON supplier_forwards (case_id) WHERE ended_at IS NULL;
-- The supplier check reads only the forwards that are due.
CREATE INDEX supplier_forwards_due ON supplier_forwards (next_check_at) WHERE next_check_at IS NOT NULL;
-- A supplier's mail that carries only their reference finds its case.
CREATE INDEX supplier_forwards_reference ON supplier_forwards (supplier, lower(reference)) WHERE reference <> '';
-- Reports count forwards by time.
CREATE INDEX supplier_forwards_at ON supplier_forwards (forwarded_at);
