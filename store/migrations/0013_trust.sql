-- Reply tokens that were shown to more people than their holder (an
-- agent's reply with others in To or Cc, a mail to a list): they still
-- thread, but carry no command or public reply any more. Kept as SHA-256,
-- never the token itself.
CREATE TABLE spent_tokens (
    token_sha256 bytea PRIMARY KEY,
    case_id      bigint REFERENCES cases (id) ON DELETE CASCADE,
    spent_at     timestamptz NOT NULL,
    reason       text NOT NULL
);
CREATE INDEX spent_tokens_case_idx ON spent_tokens (case_id);

-- Mails about a case to one recipient, for relay_limit_per_hour: two
-- autoresponders cannot ping-pong through a case. Pruned after a day.
CREATE TABLE relay_log (
    case_id bigint NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    address text NOT NULL,
    at      timestamptz NOT NULL
);
CREATE INDEX relay_log_idx ON relay_log (case_id, address, at);
CREATE INDEX relay_log_at_idx ON relay_log (at);
