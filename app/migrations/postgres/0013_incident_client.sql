-- Each incident carries its site's client, so that a user's scope (a set of clients) is a
-- range of an index rather than a condition tested row by row: the incident list of a user
-- who sees 5 clients of 300 reads those clients' rows, not everyone's.
--
-- The writers set it; a trigger fills it for a writer that does not, and another moves a
-- site's incidents with the site when it is given to another client.
ALTER TABLE incidents ADD COLUMN client_id BIGINT;
UPDATE incidents i SET client_id = s.client_id FROM sites s WHERE s.id = i.site_id;
ALTER TABLE incidents ALTER COLUMN client_id SET NOT NULL;

CREATE FUNCTION incident_takes_its_sites_client() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT client_id INTO NEW.client_id FROM sites WHERE id = NEW.site_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER incidents_take_their_sites_client BEFORE INSERT ON incidents
FOR EACH ROW WHEN (NEW.client_id IS NULL) EXECUTE FUNCTION incident_takes_its_sites_client();

CREATE FUNCTION incidents_follow_their_site() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE incidents SET client_id = NEW.client_id WHERE site_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER incidents_follow_their_sites_client AFTER UPDATE OF client_id ON sites
FOR EACH ROW WHEN (NEW.client_id <> OLD.client_id) EXECUTE FUNCTION incidents_follow_their_site();

-- The unscoped list's indexes (0002), each led by the client.
CREATE INDEX incidents_client_order ON incidents (client_id, reported_at DESC, id DESC);
CREATE INDEX incidents_client_rank ON incidents (client_id, severity_rank DESC, reported_at DESC, id DESC);
CREATE INDEX incidents_client_site ON incidents (client_id, site_id DESC, reported_at DESC, id DESC);
CREATE INDEX incidents_client_status_order ON incidents (client_id, status, reported_at DESC, id DESC);
CREATE INDEX incidents_client_status_rank ON incidents (client_id, status, severity_rank DESC, reported_at DESC, id DESC);
CREATE INDEX incidents_client_status_site ON incidents (client_id, status, site_id DESC, reported_at DESC, id DESC);
