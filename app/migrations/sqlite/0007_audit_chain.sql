-- The audit log made tamper-evident: entries are sealed into a hash chain shortly after they
-- are written (by one server at a time), each hash covering the entry and the hash before it.
-- `posture verify-audit` walks the chain in `chain_position` order.
ALTER TABLE audit_log ADD COLUMN chain_position BIGINT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_log_chain ON audit_log (chain_position);
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE hash IS NULL;
