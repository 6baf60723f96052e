-- restauth's own state beside a Django project's tables (schema_flavor = "django"). Django's
-- tables are read and written as Django defines them and never altered; no foreign key points
-- at them, so Django's own deletes are never blocked by these rows.

-- Per-user revocation cut-off (Unix milliseconds): credentials issued at or before it are
-- refused ("log out everywhere").
CREATE TABLE restauth_user_state (
    user_id INTEGER PRIMARY KEY,
    valid_after INTEGER NOT NULL DEFAULT 0
);

-- What restauth knows of a django_session row, by the SHA-256 (hex) of its key: when restauth
-- started it (Unix milliseconds; NULL for sessions Django started) and when it was last used
-- (Unix seconds), for the idle timeout.
CREATE TABLE restauth_session_state (
    digest TEXT PRIMARY KEY,
    created INTEGER,
    last_seen INTEGER NOT NULL
);

-- Refresh-token rotation families: simplejwt's outstanding table keeps each token once; the
-- login family, the rotation time (Unix milliseconds) and the one successor live here.
CREATE TABLE restauth_refresh_family (
    jti TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    rotated_at INTEGER,
    successor TEXT
);
CREATE INDEX restauth_refresh_family_family ON restauth_refresh_family (family);

-- Where each user last logged in successfully with a password (see the restauth schema).
CREATE TABLE restauth_login_network (
    user_id INTEGER NOT NULL,
    network TEXT NOT NULL,
    last_success INTEGER NOT NULL,
    PRIMARY KEY (user_id, network)
);

-- Security events; the record of what happened to a user outlives the user.
CREATE TABLE restauth_audit_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    provider TEXT NOT NULL,
    user_id INTEGER,
    user_name TEXT NOT NULL DEFAULT '',
    source_ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX restauth_audit_event_at ON restauth_audit_event (at_ms);
CREATE INDEX restauth_audit_event_user ON restauth_audit_event (user_name, at_ms);
