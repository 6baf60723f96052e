-- Refresh tokens handed out (simplejwt's OutstandingToken), with the login they descend from:
-- every rotation keeps the family, so a replayed old token can revoke the whole line.
CREATE TABLE token_blacklist_outstandingtoken (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    jti TEXT NOT NULL UNIQUE,
    user_id INTEGER REFERENCES auth_user (id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE INDEX token_blacklist_outstanding_family ON token_blacklist_outstandingtoken (family);
CREATE INDEX token_blacklist_outstanding_expires ON token_blacklist_outstandingtoken (expires_at);

-- Refused token ids (simplejwt's BlacklistedToken), kept until the token would expire anyway.
CREATE TABLE token_blacklist_blacklistedtoken (
    jti TEXT PRIMARY KEY,
    blacklisted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX token_blacklist_blacklisted_expires ON token_blacklist_blacklistedtoken (expires_at);
