-- Rules learn two more events (a site's compliance below a threshold; a break in a site's
-- evidence chain) and, per rule: the silence thresholds, a compliance threshold, a repeat
-- interval while unresolved, and instant or digest delivery (one summary an hour or a day).
--
-- SQLite cannot alter a CHECK, and rebuilding the table inside the migration's transaction
-- would cascade to the rules' channels and deliveries. Widening a CHECK leaves every stored
-- row valid, so the table's definition is edited in place, the way SQLite's manual describes
-- for constraints (lang_altertable.html, "other kinds of table schema changes"). RESET turns
-- writing the schema off and reloads it, so the ALTERs below see the new definition.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (event IN (''incident'', ''silent''))',
                  'CHECK (event IN (''incident'', ''silent'', ''compliance'', ''chain''))')
WHERE type = 'table' AND name = 'alert_rules';
PRAGMA writable_schema = RESET;

ALTER TABLE alert_rules ADD COLUMN warn_after_minutes INTEGER;
ALTER TABLE alert_rules ADD COLUMN critical_after_minutes INTEGER;
ALTER TABLE alert_rules ADD COLUMN below_percent INTEGER CHECK (below_percent BETWEEN 1 AND 100);
ALTER TABLE alert_rules ADD COLUMN repeat_minutes INTEGER CHECK (repeat_minutes > 0);
ALTER TABLE alert_rules ADD COLUMN delivery TEXT NOT NULL DEFAULT 'instant'
    CHECK (delivery IN ('instant', 'hourly', 'daily'));
UPDATE alert_rules SET warn_after_minutes = 15, critical_after_minutes = 60 WHERE event = 'silent';

-- A compliance rule's sites now below its threshold: since when, and when it last alerted
-- (for the repeat interval). The row goes when the site is back above.
CREATE TABLE alert_conditions (
    rule_id       INTEGER NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    site_id       INTEGER NOT NULL REFERENCES sites (id),
    since         TEXT NOT NULL,
    last_alert_at TEXT NOT NULL,
    PRIMARY KEY (rule_id, site_id)
);

-- The reminders of open incidents look up each incident's deliveries.
CREATE INDEX alert_deliveries_incident ON alert_deliveries (incident_id) WHERE incident_id IS NOT NULL;

-- The delivery log reads the newest rows by the primary key, backwards: this copy of it only
-- cost every outbox write an index entry.
DROP INDEX alert_deliveries_recent;
