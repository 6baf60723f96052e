-- Server-side sessions: the cookie's key is kept only as its SHA-256 digest.
CREATE TABLE auth_session (
    digest TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES auth_user (id) ON DELETE CASCADE,
    auth_hash TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX auth_session_user ON auth_session (user_id);
CREATE INDEX auth_session_expires ON auth_session (expires);
