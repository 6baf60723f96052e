-- Django's auth_user, plus the instant before which credentials are refused.
CREATE TABLE auth_user (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    is_staff INTEGER NOT NULL DEFAULT 0,
    is_superuser INTEGER NOT NULL DEFAULT 0,
    date_joined INTEGER NOT NULL,
    last_login INTEGER,
    valid_after INTEGER NOT NULL DEFAULT 0
);

-- API tokens: only the SHA-256 digest of the key is kept, several per user.
CREATE TABLE authtoken_token (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES auth_user (id) ON DELETE CASCADE,
    created INTEGER NOT NULL,
    last_used INTEGER,
    expires INTEGER
);
CREATE INDEX authtoken_token_user_created ON authtoken_token (user_id, created);
