-- Clients own sites (one clinic each); incidents are reported per site; users sign in.
CREATE TABLE clients (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id          TEXT NOT NULL UNIQUE,
    client_id        BIGINT NOT NULL REFERENCES clients (id),
    clinic_name      TEXT NOT NULL,
    tier             TEXT NOT NULL CHECK (tier IN ('small', 'mid', 'large')),
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'online', 'stale', 'offline')),
    onboarding_stage TEXT NOT NULL DEFAULT 'new',
    contact_name     TEXT,
    contact_email    TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sites_client ON sites (client_id);

CREATE TABLE incidents (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     BIGINT NOT NULL REFERENCES sites (id),
    hostname    TEXT NOT NULL,
    check_type  TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    status      TEXT NOT NULL CHECK (status IN ('open', 'resolving', 'resolved', 'escalated')),
    reported_at TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ
);
CREATE INDEX incidents_status ON incidents (status);
CREATE INDEX incidents_site ON incidents (site_id, reported_at DESC);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'readonly')),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
