-- A login by e-mail ([user] login_methods) matches lower(email): an index, not a table scan.
CREATE INDEX IF NOT EXISTS auth_user_email_lower ON auth_user (lower(email));
