-- Incidents are deduplicated per site by hostname and check type. The site is its stable
-- key (sites.id), never its public id, which an admin may rename: a key that embedded the
-- public id left a renamed site's incidents unresolvable and handed them to any new site
-- given the old id.
DROP INDEX incidents_dedup_open;
DROP INDEX incidents_dedup_resolved;
-- Renames may already have left two unresolved incidents of one (site, host, check): the
-- older ones could never be resolved by their appliance, so they are closed here.
UPDATE incidents SET status = 'resolved', resolved_at = reported_at
 WHERE status <> 'resolved'
   AND id NOT IN (SELECT MAX(id) FROM incidents WHERE status <> 'resolved'
                  GROUP BY site_id, hostname, check_type);
UPDATE incidents SET dedup_key = hostname || ':' || check_type;
CREATE UNIQUE INDEX incidents_dedup_open ON incidents (site_id, dedup_key) WHERE status <> 'resolved';
CREATE INDEX incidents_dedup_resolved ON incidents (site_id, dedup_key, resolved_at DESC);

-- Reports an appliance sent with a report_id, and what they were answered: a retry of the
-- same report (its answer lost on the way) gets the first answer and writes nothing again.
CREATE TABLE ingest_reports (
    appliance_id BIGINT NOT NULL REFERENCES appliances (id),
    report_id    TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (appliance_id, report_id)
);
CREATE INDEX ingest_reports_received ON ingest_reports (received_at);

-- The purge of unusable sessions, every 10 minutes, finds them without reading the table.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
