-- Rules learn two more events (a site's compliance below a threshold; a break in a site's
-- evidence chain) and, per rule: the silence thresholds, a compliance threshold, a repeat
-- interval while unresolved, and instant or digest delivery (one summary an hour or a day).
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_event_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_event_check
    CHECK (event IN ('incident', 'silent', 'compliance', 'chain'));
ALTER TABLE alert_rules
    ADD COLUMN warn_after_minutes     INTEGER,
    ADD COLUMN critical_after_minutes INTEGER,
    ADD COLUMN below_percent          INTEGER CHECK (below_percent BETWEEN 1 AND 100),
    ADD COLUMN repeat_minutes         INTEGER CHECK (repeat_minutes > 0),
    ADD COLUMN delivery               TEXT NOT NULL DEFAULT 'instant'
        CHECK (delivery IN ('instant', 'hourly', 'daily'));
UPDATE alert_rules SET warn_after_minutes = 15, critical_after_minutes = 60 WHERE event = 'silent';

-- A compliance rule's sites now below its threshold: since when, and when it last alerted
-- (for the repeat interval). The row goes when the site is back above.
CREATE TABLE alert_conditions (
    rule_id       BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    site_id       BIGINT NOT NULL REFERENCES sites (id),
    since         TIMESTAMPTZ NOT NULL,
    last_alert_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (rule_id, site_id)
);

-- The reminders of open incidents look up each incident's deliveries.
CREATE INDEX alert_deliveries_incident ON alert_deliveries (incident_id) WHERE incident_id IS NOT NULL;

-- The delivery log reads the newest rows by the primary key, backwards: this copy of it only
-- cost every outbox write an index entry.
DROP INDEX alert_deliveries_recent;
