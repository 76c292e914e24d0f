-- Which instance watches which mailbox. A lease lasts until expires_at and
-- is renewed by its holder every few seconds; an expired lease (its holder
-- died, stopped or lost the database) may be taken by any instance. Only
-- the holder connects to the mailbox, so several instances do not multiply
-- the IMAP connections a provider allows per mailbox.
CREATE TABLE mailbox_leases (
    mailbox    text PRIMARY KEY,
    instance   text NOT NULL,
    since      timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX mailbox_leases_instance ON mailbox_leases (instance);

-- When the instance last renewed its leases; NULL once it stopped sharing
-- mailboxes (a clean stop), so that the others count it out at once
-- instead of when its heartbeat ages.
ALTER TABLE instances ADD COLUMN leases_renewed_at timestamptz;
