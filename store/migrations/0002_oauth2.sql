-- OAuth2 grants for XOAUTH2 logins to IMAP and SMTP, shared by every
-- instance. One row per account: (imap, mailbox name) or (smtp, 'smtp').
-- `casemail oauth2 login` writes a row; the daemons refresh it in place
-- under SELECT ... FOR UPDATE, so that only one instance uses a refresh
-- token that the provider may rotate. Additive only: older replicas never
-- read it.
CREATE TABLE oauth2_tokens (
    purpose       text NOT NULL CHECK (purpose IN ('imap', 'smtp')),
    name          text NOT NULL,                 -- mailbox name, or 'smtp'
    provider      text NOT NULL,                 -- microsoft | google | custom
    client_id     text NOT NULL,                 -- the app the grant belongs to
    username      text NOT NULL DEFAULT '',      -- the login it was obtained for (informational)
    access_token  text NOT NULL,
    refresh_token text NOT NULL,
    token_type    text NOT NULL DEFAULT 'Bearer',
    expires_at    timestamptz NOT NULL,          -- of the access token
    scopes        text[] NOT NULL DEFAULT '{}',  -- as granted
    version       bigint NOT NULL DEFAULT 1,     -- +1 on every login and refresh
    obtained_at   timestamptz NOT NULL,          -- last interactive login
    refreshed_at  timestamptz NOT NULL,          -- last login or successful refresh
    last_error    text NOT NULL DEFAULT '',      -- last failed refresh since refreshed_at, '' when none
    last_error_at timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (purpose, name)
);
