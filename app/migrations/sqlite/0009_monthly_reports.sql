-- Reports of closed months, frozen: generated once and shown as stored, so pruning raw data
-- later never changes a report already given. `subject_id` is a client's id or a site's key.
CREATE TABLE monthly_reports (
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('client', 'site')),
    subject_id   INTEGER NOT NULL,
    month        TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    body         TEXT NOT NULL,
    -- The monthly schedule mails a client's report to its contacts once: when, and the relay's
    -- answer (or why nobody was mailed).
    mailed_at    TEXT,
    mail_outcome TEXT,
    PRIMARY KEY (subject_kind, subject_id, month)
);

-- A site's spans without a check-in longer than the offline threshold, recorded when it comes
-- back; a span still running is read from `sites.last_checkin_at`.
CREATE TABLE offline_spans (
    site_id    INTEGER NOT NULL REFERENCES sites (id),
    started_at TEXT NOT NULL,
    ended_at   TEXT NOT NULL,
    PRIMARY KEY (site_id, started_at)
);

-- The server's Ed25519 key that signs evidence packs: made by the first server to start,
-- shared by every server on the database. One row.
CREATE TABLE signing_keys (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    secret_key  TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
