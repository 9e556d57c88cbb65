-- One compliance snapshot per site and UTC day, written by every server's housekeeping and
-- kept at least six years (HIPAA's retention); the day makes a second writer a no-op.
ALTER TABLE compliance_snapshots ADD COLUMN day DATE;
UPDATE compliance_snapshots SET day = (snapshot_at AT TIME ZONE 'UTC')::date
 WHERE id IN (SELECT MAX(id) FROM compliance_snapshots
              GROUP BY site_id, (snapshot_at AT TIME ZONE 'UTC')::date);
CREATE UNIQUE INDEX compliance_snapshots_day ON compliance_snapshots (site_id, day);
