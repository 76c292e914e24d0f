-- One mechanism runs a job once across instances (store.RunOnce): the
-- scheduler's jobs and retention share job_runs. maintenance_runs, which
-- only retention used, is copied into it and left in place for older
-- instances during a rolling upgrade (a later release drops it).
ALTER TABLE job_runs
    ADD COLUMN started_at timestamptz,
    ADD COLUMN result     jsonb NOT NULL DEFAULT '{}';

INSERT INTO job_runs (name, started_at, last_run, result, last_error)
SELECT job, started_at, finished_at, result, last_error FROM maintenance_runs
ON CONFLICT (name) DO NOTHING;
