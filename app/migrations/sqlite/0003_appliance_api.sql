-- Appliance API keys. A key is 32 random bytes, so a single SHA-256 is as strong as a slow
-- password hash against guessing and costs microseconds, where argon2 would cost tens of
-- milliseconds on every request. Only the hash is stored; the key is shown once.
CREATE TABLE appliance_keys (
    id           INTEGER PRIMARY KEY,
    appliance_id INTEGER NOT NULL REFERENCES appliances (id),
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked_at   TEXT
);
CREATE INDEX appliance_keys_appliance ON appliance_keys (appliance_id);

-- Incidents are looked up by dedup key when a drift event arrives, including resolved ones
-- (a drift within 30 minutes of resolution re-opens the incident).
CREATE INDEX incidents_dedup_resolved ON incidents (dedup_key, resolved_at DESC);

