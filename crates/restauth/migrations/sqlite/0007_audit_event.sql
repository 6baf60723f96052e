-- Security events (logins, token and password changes, replays, lock-outs). No foreign key:
-- the record of what happened to a user outlives the user.
CREATE TABLE audit_event (
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
CREATE INDEX audit_event_at ON audit_event (at_ms);
CREATE INDEX audit_event_user ON audit_event (user_name, at_ms);
