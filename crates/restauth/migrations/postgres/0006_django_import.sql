-- What `restauth import-django` brought over, so that running it again updates rather than
-- duplicates, keeps what changed on restauth since, and never brings back a credential that
-- restauth has ended. `source_key` is the Django user id, or the SHA-256 digest of a token or
-- session key (never a key itself); `fingerprint` tells whether the Django row changed.
CREATE TABLE restauth_django_import (
    kind TEXT NOT NULL,
    source_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '',
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (kind, source_key)
);
