-- A user model's primary key may be an integer or a UUID (Django's UUIDField, 32 hex digits in
-- a char(32) on SQLite): restauth's tables beside Django's hold it as text, as
-- CAST(key AS TEXT) gives it. SQLite changes a column's type by copying the table.
CREATE TABLE restauth_user_state_new (
    user_id TEXT PRIMARY KEY,
    valid_after INTEGER NOT NULL DEFAULT 0,
    cut_off_cause INTEGER NOT NULL DEFAULT 0,
    deactivated_by_admin INTEGER NOT NULL DEFAULT 0
);
INSERT INTO restauth_user_state_new (user_id, valid_after, cut_off_cause, deactivated_by_admin)
    SELECT CAST(user_id AS TEXT), valid_after, cut_off_cause, deactivated_by_admin
    FROM restauth_user_state;
DROP TABLE restauth_user_state;
ALTER TABLE restauth_user_state_new RENAME TO restauth_user_state;

CREATE TABLE restauth_login_network_new (
    user_id TEXT NOT NULL,
    network TEXT NOT NULL,
    last_success INTEGER NOT NULL,
    PRIMARY KEY (user_id, network)
);
INSERT INTO restauth_login_network_new (user_id, network, last_success)
    SELECT CAST(user_id AS TEXT), network, last_success FROM restauth_login_network;
DROP TABLE restauth_login_network;
ALTER TABLE restauth_login_network_new RENAME TO restauth_login_network;

CREATE TABLE restauth_audit_event_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    provider TEXT NOT NULL,
    user_id TEXT,
    user_name TEXT NOT NULL DEFAULT '',
    source_ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
INSERT INTO restauth_audit_event_new
    (id, at_ms, action, outcome, reason, provider, user_id, user_name, source_ip, user_agent)
    SELECT id, at_ms, action, outcome, reason, provider, CAST(user_id AS TEXT), user_name,
           source_ip, user_agent
    FROM restauth_audit_event;
DROP TABLE restauth_audit_event;
ALTER TABLE restauth_audit_event_new RENAME TO restauth_audit_event;
CREATE INDEX restauth_audit_event_at ON restauth_audit_event (at_ms);
CREATE INDEX restauth_audit_event_user ON restauth_audit_event (user_name, at_ms);
