-- Sessions get an id given in commit order (AUTOINCREMENT never reuses one), so that the
-- in-memory digest index can read the sessions added since it last looked, as it does for
-- tokens. SQLite cannot add such a column in place: the table is rebuilt.
CREATE TABLE auth_session_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES auth_user (id) ON DELETE CASCADE,
    auth_hash TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT ''
);
INSERT INTO auth_session_new
    (digest, user_id, auth_hash, created, last_seen, expires, user_agent, address)
    SELECT digest, user_id, auth_hash, created, last_seen, expires, user_agent, address
    FROM auth_session ORDER BY created, digest;
DROP TABLE auth_session;
ALTER TABLE auth_session_new RENAME TO auth_session;
CREATE INDEX auth_session_user ON auth_session (user_id);
CREATE INDEX auth_session_expires ON auth_session (expires);
