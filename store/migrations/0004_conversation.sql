-- Working a case by email: approval of services with `approval: ROLE`.
-- '' = no approval needed; pending cases wait for a holder's #approve or #reject.
ALTER TABLE cases ADD COLUMN approval text NOT NULL DEFAULT ''
    CHECK (approval IN ('', 'pending', 'approved', 'rejected'));
CREATE INDEX cases_approval_idx ON cases (approval) WHERE approval = 'pending';
