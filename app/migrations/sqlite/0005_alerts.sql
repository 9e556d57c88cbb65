-- Where alerts go: a list of e-mail addresses, or a webhook (plain JSON, Slack or Microsoft
-- Teams Workflows).
CREATE TABLE alert_channels (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('email', 'webhook', 'slack', 'teams')),
    target      TEXT NOT NULL,
    -- The key of the webhook's X-Posture-Signature (HMAC-SHA256); empty for e-mail.
    secret      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- What is alerted on: incidents, or a site gone silent (its appliance stopped checking in:
-- high once the site is stale, critical once offline). Rules without a client are the
-- defaults; a client's own rules of an event replace the defaults of that event for it.
CREATE TABLE alert_rules (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    client_id       INTEGER REFERENCES clients (id),
    event           TEXT NOT NULL CHECK (event IN ('incident', 'silent')),
    min_severity    TEXT NOT NULL CHECK (min_severity IN ('low', 'medium', 'high', 'critical')),
    notify_resolved BOOLEAN NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TEXT NOT NULL
);

CREATE TABLE alert_rule_channels (
    rule_id    INTEGER NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, channel_id)
);

-- The outbox: one row per message to send, written in the transaction of the event that
-- caused it, claimed and sent by a delivery worker, retried with backoff, then dead. Past a
-- rule's hourly limit per channel an alert is "folded" into that hour's digest, one message
-- sent when the hour ends.
CREATE TABLE alert_deliveries (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    rule_id         INTEGER REFERENCES alert_rules (id) ON DELETE SET NULL,
    channel_id      INTEGER NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    site_id         INTEGER REFERENCES sites (id),
    incident_id     INTEGER REFERENCES incidents (id),
    subject         TEXT NOT NULL,
    -- The event as JSON, rendered per channel when sent.
    payload         TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('alert', 'digest')),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead', 'folded', 'suppressed')),
    -- The maintenance window that held a suppressed alert back.
    suppressed_by   INTEGER,
    folded_into     INTEGER REFERENCES alert_deliveries (id),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_recent ON alert_deliveries (id DESC);
-- The alerts each rule and channel sent this hour, counted against its hourly limit.
CREATE INDEX alert_deliveries_route ON alert_deliveries (rule_id, channel_id, created_at)
    WHERE kind = 'alert' AND status NOT IN ('folded', 'suppressed');
CREATE INDEX alert_deliveries_folded ON alert_deliveries (folded_into) WHERE folded_into IS NOT NULL;

-- Jobs one server at a time runs (the silence sweep): who holds each, until when.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Planned work on a site, or on every site of a client: alerts inside a window are held back
-- (logged as suppressed), incidents are still recorded. A window is once, or weekly at the
-- same local time in its time zone (so it follows daylight saving).
CREATE TABLE maintenance_windows (
    id               INTEGER PRIMARY KEY,
    site_id          INTEGER REFERENCES sites (id),
    client_id        INTEGER REFERENCES clients (id),
    reason           TEXT NOT NULL,
    starts_at        TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
    weekly           BOOLEAN NOT NULL,
    time_zone        TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    CHECK ((site_id IS NULL) <> (client_id IS NULL))
);
