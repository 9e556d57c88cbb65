-- The whole domain. Timestamps are UTC, stored as RFC 3339 text (sqlx's chrono encoding).
CREATE TABLE clients (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- A site's live status (pending/online/stale/offline) is derived from last_checkin_at, the
-- latest check-in of any of its appliances, kept here so lists never aggregate appliances.
CREATE TABLE sites (
    id               INTEGER PRIMARY KEY,
    site_id          TEXT NOT NULL UNIQUE,
    client_id        INTEGER NOT NULL REFERENCES clients (id),
    clinic_name      TEXT NOT NULL,
    tier             TEXT NOT NULL CHECK (tier IN ('small', 'mid', 'large')),
    onboarding_stage TEXT NOT NULL DEFAULT 'provisioning'
                     CHECK (onboarding_stage IN ('provisioning', 'baseline', 'monitoring', 'complete')),
    contact_name     TEXT,
    contact_email    TEXT,
    last_checkin_at  TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX sites_client ON sites (client_id);

CREATE TABLE appliances (
    id              INTEGER PRIMARY KEY,
    site_id         INTEGER NOT NULL REFERENCES sites (id),
    hostname        TEXT NOT NULL,
    mac             TEXT NOT NULL UNIQUE,
    agent_version   TEXT NOT NULL,
    last_checkin_at TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX appliances_site ON appliances (site_id);

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY,
    appliance_id    INTEGER NOT NULL REFERENCES appliances (id),
    order_type      TEXT NOT NULL,
    parameters      TEXT NOT NULL DEFAULT '{}',
    priority        INTEGER NOT NULL DEFAULT 5,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'acknowledged', 'completed', 'failed', 'expired')),
    result          TEXT,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    acknowledged_at TEXT,
    completed_at    TEXT
);
-- Appliances poll for their pending orders: only those rows are indexed.
CREATE INDEX orders_pending ON orders (appliance_id, status) WHERE status = 'pending';

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    site_id         INTEGER NOT NULL REFERENCES sites (id),
    appliance_id    INTEGER REFERENCES appliances (id),
    hostname        TEXT NOT NULL,
    check_type      TEXT NOT NULL,
    category        TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    severity_rank   INTEGER NOT NULL CHECK (severity_rank BETWEEN 1 AND 4),
    status          TEXT NOT NULL CHECK (status IN ('open', 'resolving', 'resolved', 'escalated')),
    resolution_tier TEXT CHECK (resolution_tier IN ('L1', 'L2', 'L3', 'manual')),
    dedup_key       TEXT NOT NULL,
    details         TEXT NOT NULL DEFAULT '{}',
    reported_at     TEXT NOT NULL,
    resolved_at     TEXT
);
-- One unresolved incident per dedup key.
CREATE UNIQUE INDEX incidents_dedup_open ON incidents (dedup_key) WHERE status <> 'resolved';
CREATE INDEX incidents_reported ON incidents (reported_at DESC, id DESC);
CREATE INDEX incidents_severity ON incidents (severity, reported_at DESC, id DESC);
CREATE INDEX incidents_status ON incidents (status, severity);
CREATE INDEX incidents_site ON incidents (site_id, reported_at DESC);

CREATE TABLE runbooks (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL,
    category             TEXT NOT NULL,
    check_types          TEXT NOT NULL DEFAULT '[]',
    level                TEXT NOT NULL CHECK (level IN ('L1', 'L2', 'L3')),
    hipaa_controls       TEXT NOT NULL DEFAULT '[]',
    steps                TEXT NOT NULL DEFAULT '[]',
    disruptive           BOOLEAN NOT NULL DEFAULT FALSE,
    execution_count      INTEGER NOT NULL DEFAULT 0,
    success_rate         REAL NOT NULL DEFAULT 0,
    avg_duration_seconds REAL NOT NULL DEFAULT 0
);

-- One appliance report; its check results reference it.
CREATE TABLE compliance_bundles (
    id           INTEGER PRIMARY KEY,
    site_id      INTEGER NOT NULL REFERENCES sites (id),
    appliance_id INTEGER NOT NULL REFERENCES appliances (id),
    submitted_at TEXT NOT NULL,
    pass_count   INTEGER NOT NULL,
    warn_count   INTEGER NOT NULL,
    fail_count   INTEGER NOT NULL
);
CREATE INDEX compliance_bundles_site ON compliance_bundles (site_id, submitted_at DESC);

CREATE TABLE check_results (
    id         INTEGER PRIMARY KEY,
    bundle_id  INTEGER NOT NULL REFERENCES compliance_bundles (id),
    site_id    INTEGER NOT NULL REFERENCES sites (id),
    check_type TEXT NOT NULL,
    hostname   TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
    checked_at TEXT NOT NULL
);
CREATE INDEX check_results_site ON check_results (site_id, checked_at DESC);

-- The latest result per (site, check_type, hostname), maintained on every report, so scoring
-- reads a few rows per site instead of ranking the whole history.
CREATE TABLE check_latest (
    site_id    INTEGER NOT NULL REFERENCES sites (id),
    check_type TEXT NOT NULL,
    hostname   TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
    checked_at TEXT NOT NULL,
    PRIMARY KEY (site_id, check_type, hostname)
);

CREATE TABLE compliance_snapshots (
    id              INTEGER PRIMARY KEY,
    site_id         INTEGER NOT NULL REFERENCES sites (id),
    snapshot_at     TEXT NOT NULL,
    score           REAL,
    category_scores TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX compliance_snapshots_site ON compliance_snapshots (site_id, snapshot_at DESC);

CREATE TABLE evidence_bundles (
    id          INTEGER PRIMARY KEY,
    site_id     INTEGER NOT NULL REFERENCES sites (id),
    position    INTEGER NOT NULL,
    bundle_hash TEXT NOT NULL,
    prev_hash   TEXT,
    created_at  TEXT NOT NULL,
    UNIQUE (site_id, position)
);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    site_id    INTEGER NOT NULL REFERENCES sites (id),
    event_type TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    at         TEXT NOT NULL
);
CREATE INDEX events_site ON events (site_id, at DESC);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'readonly')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    ip      TEXT,
    at      TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
