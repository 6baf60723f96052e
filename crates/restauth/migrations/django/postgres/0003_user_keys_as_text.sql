-- A user model's primary key may be an integer or a UUID (Django's UUIDField): restauth's
-- tables beside Django's hold it as text, as CAST(key AS TEXT) gives it (decimal digits, or the
-- dashed form of a uuid).
ALTER TABLE restauth_user_state ALTER COLUMN user_id TYPE TEXT USING CAST(user_id AS TEXT);
ALTER TABLE restauth_login_network ALTER COLUMN user_id TYPE TEXT USING CAST(user_id AS TEXT);
ALTER TABLE restauth_audit_event ALTER COLUMN user_id TYPE TEXT USING CAST(user_id AS TEXT);
