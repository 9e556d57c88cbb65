-- Scopes and clinic accounts.
--
-- `client_scope`: the clients a user sees, their ids in ascending order joined by commas
-- ('3,7'; '' for none); NULL for every client, present and future. Admins are never scoped.
-- `clinic_of`: set for a clinic account (the `clinic` role), the one client whose staff it
-- belongs to. Its `role` column says 'readonly' (what it may do at most), since SQLite cannot
-- change the role column's CHECK constraint without rebuilding the table.
ALTER TABLE users ADD COLUMN client_scope TEXT;
ALTER TABLE users ADD COLUMN clinic_of INTEGER REFERENCES clients (id);

-- Invitations of clinic staff: a one-time link (only its SHA-256 kept) that makes a clinic
-- account of `client_id`, valid until `expires_at` and once.
CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    client_id   INTEGER NOT NULL REFERENCES clients (id),
    email       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    user_id     INTEGER REFERENCES users (id)
);
