-- Sessions get an id, as on SQLite, where the digest index reads the sessions added since it
-- last looked. The index stays off on PostgreSQL (ids need not commit in order); the column
-- keeps both schemas alike.
ALTER TABLE auth_session ADD COLUMN id BIGSERIAL UNIQUE;
