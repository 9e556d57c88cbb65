-- One compliance snapshot per site and UTC day, written by every server's housekeeping and
-- kept at least six years (HIPAA's retention); the day makes a second writer a no-op.
ALTER TABLE compliance_snapshots ADD COLUMN day TEXT;
UPDATE compliance_snapshots SET day = substr(snapshot_at, 1, 10)
 WHERE id IN (SELECT MAX(id) FROM compliance_snapshots GROUP BY site_id, substr(snapshot_at, 1, 10));
CREATE UNIQUE INDEX compliance_snapshots_day ON compliance_snapshots (site_id, day);
