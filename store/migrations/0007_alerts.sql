-- Operational alerts mailed to the support manager, one per key across all
-- instances (a failed mail, an OAuth2 outage), so that several instances
-- noticing the same trouble send one mail.
CREATE TABLE alerts_sent (
    key  text PRIMARY KEY,
    at   timestamptz NOT NULL DEFAULT now()
);
