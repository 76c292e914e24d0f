-- SLA clocks, escalation bookkeeping and the scheduler's job runs.
-- Additive only: older replicas ignore the new columns and tables.

ALTER TABLE cases
    -- When the holder is warned that a target is near; NULL once warned or
    -- when there is no warning. Set by the SLA check (sla_armed = false
    -- until it has), so the warning threshold is the scheduler's setting.
    ADD COLUMN first_response_warn timestamptz,
    ADD COLUMN resolution_warn     timestamptz,
    ADD COLUMN sla_armed           boolean NOT NULL DEFAULT true,
    -- Each target's outcome once known: '' pending, met or breached.
    ADD COLUMN sla_first_response  text NOT NULL DEFAULT ''
        CHECK (sla_first_response IN ('', 'met', 'breached')),
    ADD COLUMN sla_resolution      text NOT NULL DEFAULT ''
        CHECK (sla_resolution IN ('', 'met', 'breached')),
    -- A breached case climbs one rung each time this passes (NULL: it does not).
    ADD COLUMN sla_escalate_at     timestamptz,
    -- The current or last unsettled pause: kept by the trigger below
    -- whatever sets the status, given back to the due times by the SLA check.
    ADD COLUMN waiting_since       timestamptz,
    ADD COLUMN waiting_ended       timestamptz;

-- When the SLA check next has something to do for a case: arm its warnings,
-- settle a pause, warn, record a target met or breached, escalate again,
-- or wake it from #wait. Generated, so it is right whoever changes the case;
-- indexed, so the check reads only the cases that are due.
ALTER TABLE cases ADD COLUMN sla_next_at timestamptz GENERATED ALWAYS AS (LEAST(
    CASE WHEN NOT sla_armed THEN created_at END,
    waiting_ended,
    CASE WHEN status = 'waiting' THEN wait_until END,
    CASE WHEN sla_first_response = '' AND first_response_due IS NOT NULL THEN
        CASE WHEN first_response_at IS NOT NULL THEN first_response_at
             WHEN status IN ('new', 'open') THEN LEAST(first_response_warn, first_response_due) END END,
    CASE WHEN sla_resolution = '' AND resolution_due IS NOT NULL THEN
        CASE WHEN resolved_at IS NOT NULL THEN resolved_at
             WHEN closed_at IS NOT NULL THEN closed_at
             WHEN status IN ('new', 'open') THEN LEAST(resolution_warn, resolution_due) END END,
    CASE WHEN status IN ('new', 'open') THEN sla_escalate_at END
)) STORED;
CREATE INDEX cases_sla_next_idx ON cases (sla_next_at) WHERE sla_next_at IS NOT NULL;

CREATE FUNCTION cases_track_waiting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'waiting' AND OLD.status <> 'waiting' THEN
        -- A pause not yet given back continues: it then also covers the
        -- moments between the two waits (at most one SLA check interval).
        IF OLD.waiting_since IS NULL OR OLD.waiting_ended IS NULL THEN
            NEW.waiting_since := NEW.updated_at;
        END IF;
        NEW.waiting_ended := NULL;
    ELSIF OLD.status = 'waiting' AND NEW.status <> 'waiting' AND NEW.waiting_since IS NOT NULL THEN
        NEW.waiting_ended := GREATEST(NEW.updated_at, NEW.waiting_since);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER cases_track_waiting BEFORE UPDATE OF status ON cases
    FOR EACH ROW EXECUTE FUNCTION cases_track_waiting();

-- Escalation notices given, so each happens at most once per case, target
-- and rung, across instances and after downtime.
CREATE TABLE sla_notices (
    case_id bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    target  text NOT NULL,          -- first_response | resolution
    kind    text NOT NULL,          -- warning | escalation
    rung    int NOT NULL,           -- the rung the case was on
    at      timestamptz NOT NULL,
    PRIMARY KEY (case_id, target, kind, rung)
);

-- The scheduler's jobs: the last run of each, so that an instance firing
-- the same slot as another (or catching up after downtime) skips or runs once.
CREATE TABLE job_runs (
    name        text PRIMARY KEY,   -- reminders | digest | sla_check
    last_run    timestamptz,
    last_error  text NOT NULL DEFAULT '',
    runs        bigint NOT NULL DEFAULT 0
);

-- Reports count transfers and SLA outcomes by time.
CREATE INDEX cases_resolved_idx ON cases (resolved_at) WHERE resolved_at IS NOT NULL;
