-- Accounts: disabled users, lockout after failed logins, server-side sessions.
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TEXT;

-- A session is known by the SHA-256 of its cookie token, so a leaked table cannot be replayed.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Sites edited by form: free-text notes, and decommissioning instead of deletion.
ALTER TABLE sites ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN decommissioned_at TEXT;

CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
CREATE INDEX audit_log_action ON audit_log (action, at DESC);

-- Triage: operators suppress incidents for a while; every action on an incident is kept.
ALTER TABLE incidents ADD COLUMN suppressed_until TEXT;
CREATE TABLE incident_history (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, at);
-- The list's other orders, each walked newest first within its groups.
CREATE INDEX incidents_by_rank ON incidents (severity_rank DESC, reported_at DESC, id DESC);
CREATE INDEX incidents_by_site ON incidents (site_id DESC, reported_at DESC, id DESC);
-- "status: open" is the operators' view: it gets an index for each order.
CREATE INDEX incidents_status_order ON incidents (status, reported_at DESC, id DESC);
CREATE INDEX incidents_status_rank ON incidents (status, severity_rank DESC, reported_at DESC, id DESC);
CREATE INDEX incidents_status_site ON incidents (status, site_id DESC, reported_at DESC, id DESC);
