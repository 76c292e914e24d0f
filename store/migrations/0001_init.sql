-- casemail's first schema. Forward-only: later migrations add, never rewrite.

-- Human case numbers: short, monotonic, shared by every instance.
CREATE SEQUENCE case_number_seq START WITH 1001;

CREATE TABLE cases (
    id                 bigserial PRIMARY KEY,
    number             bigint NOT NULL UNIQUE DEFAULT nextval('case_number_seq'),
    status             text NOT NULL DEFAULT 'new'
                       CHECK (status IN ('new', 'open', 'waiting', 'resolved', 'closed', 'dropped')),
    subject            text NOT NULL DEFAULT '',
    requester          text NOT NULL,            -- lower-cased address
    requester_name     text NOT NULL DEFAULT '',
    mailbox            text NOT NULL,            -- the casemail.yaml mailbox name it came in on
    language           text NOT NULL DEFAULT '',
    priority           text NOT NULL DEFAULT 'normal'
                       CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    service            text NOT NULL DEFAULT '',
    unit               text NOT NULL DEFAULT '',
    work_area          text NOT NULL DEFAULT '',
    tier               text NOT NULL DEFAULT '',  -- "1", "2", "3", "external"
    rung               int  NOT NULL DEFAULT 0,   -- index into the service's chain
    role               text NOT NULL DEFAULT '',
    supplier           text NOT NULL DEFAULT '',
    assignee           text NOT NULL DEFAULT '',  -- person id from rules.yaml
    tags               text[] NOT NULL DEFAULT '{}',
    automatic          boolean NOT NULL DEFAULT false,
    linked_case_id     bigint REFERENCES cases(id),
    merged_into_id     bigint REFERENCES cases(id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    first_response_at  timestamptz,
    first_response_due timestamptz,
    resolution_due     timestamptz,
    wait_until         timestamptz,
    resolved_at        timestamptz,
    closed_at          timestamptz
);
CREATE INDEX cases_status_idx ON cases (status) WHERE status IN ('new', 'open', 'waiting');
CREATE INDEX cases_assignee_idx ON cases (assignee) WHERE status IN ('new', 'open', 'waiting');
CREATE INDEX cases_created_idx ON cases (created_at);

-- Everyone who may see public mail of a case and whose replies land on it.
CREATE TABLE participants (
    case_id    bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    address    text NOT NULL,                    -- lower-cased
    name       text NOT NULL DEFAULT '',
    kind       text NOT NULL CHECK (kind IN ('requester', 'cc', 'agent', 'consultant', 'supplier', 'manager')),
    person_id  text NOT NULL DEFAULT '',
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, address)
);
CREATE INDEX participants_address_idx ON participants (address);

-- Raw mail as received, kept once per content hash.
CREATE TABLE raw_mails (
    sha256     bytea PRIMARY KEY,
    size       bigint NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Attachment bodies, stored once by SHA-256 however often they arrive.
CREATE TABLE blobs (
    sha256     bytea PRIMARY KEY,
    size       bigint NOT NULL,
    data       bytea NOT NULL
);

-- Every message on a case, in or out.
CREATE TABLE messages (
    id           bigserial PRIMARY KEY,
    case_id      bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    direction    text NOT NULL CHECK (direction IN ('in', 'out')),
    kind         text NOT NULL DEFAULT 'requester',  -- requester, participant, agent, note, supplier, automatic, bounce, ...
    mailbox      text NOT NULL DEFAULT '',
    message_id   text NOT NULL DEFAULT '',           -- without angle brackets
    in_reply_to  text NOT NULL DEFAULT '',
    refs         text[] NOT NULL DEFAULT '{}',
    from_addr    text NOT NULL DEFAULT '',
    from_name    text NOT NULL DEFAULT '',
    to_addrs     text[] NOT NULL DEFAULT '{}',
    cc_addrs     text[] NOT NULL DEFAULT '{}',
    subject      text NOT NULL DEFAULT '',
    text_body    text NOT NULL DEFAULT '',           -- the whole decoded text
    new_text     text NOT NULL DEFAULT '',           -- the text without quoted history
    raw_sha256   bytea REFERENCES raw_mails(sha256),
    content_hash bytea,                               -- identity across mailboxes: hash of the raw mail
    sent_at      timestamptz,                         -- Date header
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_case_idx ON messages (case_id, id);
CREATE INDEX messages_message_id_idx ON messages (message_id) WHERE message_id <> '';
-- The same mail (Message-ID and content) reaching two mailboxes is one message.
CREATE UNIQUE INDEX messages_identity_idx ON messages (message_id, content_hash)
    WHERE direction = 'in' AND message_id <> '' AND content_hash IS NOT NULL;

CREATE TABLE attachments (
    id          bigserial PRIMARY KEY,
    message_id  bigint NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    filename    text NOT NULL DEFAULT '',
    content_type text NOT NULL DEFAULT 'application/octet-stream',
    size        bigint NOT NULL,
    sha256      bytea REFERENCES blobs(sha256),      -- null when the body was not kept (over the size cap)
    inline      boolean NOT NULL DEFAULT false
);
CREATE INDEX attachments_message_idx ON attachments (message_id);

-- The audit trail: every change to a case, who made it and why.
CREATE TABLE events (
    id         bigserial PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL DEFAULT 'casemail',     -- person id, address, or "casemail"
    kind       text NOT NULL,                        -- created, routed, assigned, status, transfer, reply, command, ...
    reason     text NOT NULL DEFAULT '',
    data       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_case_idx ON events (case_id, id);
CREATE INDEX events_kind_at_idx ON events (kind, at);

-- Mail casemail means to send, written in the same transaction as the change
-- that caused it. The sender renders each row with its fixed Message-ID and
-- Date, so a resend is the same mail.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    case_id         bigint REFERENCES cases(id) ON DELETE CASCADE,
    kind            text NOT NULL,                   -- ack, assignment, reply, forward, escalation, reminder, digest, resolved, error
    message_id      text NOT NULL UNIQUE,            -- without angle brackets
    from_header     text NOT NULL,                   -- "Name <addr>"
    reply_to        text NOT NULL DEFAULT '',
    to_addrs        text[] NOT NULL,                 -- header To and envelope recipients
    cc_addrs        text[] NOT NULL DEFAULT '{}',
    subject         text NOT NULL,
    text_body       text NOT NULL,
    html_body       text NOT NULL DEFAULT '',
    in_reply_to     text NOT NULL DEFAULT '',
    refs            text[] NOT NULL DEFAULT '{}',
    headers         jsonb NOT NULL DEFAULT '{}',     -- extra headers, e.g. Auto-Submitted
    attachments     jsonb NOT NULL DEFAULT '[]',     -- [{"sha256": hex, "filename":…, "content_type":…}]
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status IN ('pending', 'sending');

-- Message-IDs we sent and to whom: a References chain proves a sender only
-- when it holds one signed for them.
CREATE TABLE sent_message_ids (
    message_id text PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    recipient  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Per-mailbox IMAP position, committed in the same transaction as the mail.
CREATE TABLE imap_cursors (
    mailbox     text PRIMARY KEY,
    uidvalidity bigint NOT NULL,
    last_uid    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every (mailbox, UIDVALIDITY, UID) we have handled, and what it became:
-- the per-mailbox half of "exactly once".
CREATE TABLE ingested (
    mailbox     text NOT NULL,
    uidvalidity bigint NOT NULL,
    uid         bigint NOT NULL,
    message_row bigint REFERENCES messages(id) ON DELETE SET NULL,
    quarantine_id bigint,
    outcome     text NOT NULL,                       -- case, message, duplicate, quarantined
    marked      boolean NOT NULL DEFAULT false,      -- \Seen set or moved on the server
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
CREATE INDEX ingested_unmarked_idx ON ingested (mailbox, uidvalidity) WHERE NOT marked;

-- Mail that could not be processed, kept raw with the reason.
CREATE TABLE quarantine (
    id          bigserial PRIMARY KEY,
    mailbox     text NOT NULL,
    uidvalidity bigint NOT NULL DEFAULT 0,
    uid         bigint NOT NULL DEFAULT 0,
    reason      text NOT NULL,
    raw         bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retried_at  timestamptz,
    resolved_at timestamptz
);

-- Small shared state, e.g. round-robin positions, fair across instances.
CREATE TABLE assignment_state (
    key      text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0
);

-- Acknowledgements sent per sender, for ack_limit_per_hour.
CREATE TABLE ack_log (
    address text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ack_log_idx ON ack_log (address, at);
