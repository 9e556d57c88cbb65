-- Two-factor sign-in (TOTP, RFC 6238). A secret is stored when enrolment starts and counts
-- only once a first code confirms it (`totp_enabled`); `totp_last_step` is the time step of
-- the last code accepted, so a code is never accepted twice.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Ten one-time recovery codes per enrolled user, stored hashed (SHA-256 of a random code).
CREATE TABLE recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- Settings an admin changes at run time: `admins_need_two_factor` ('true' or 'false').
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
