-- Where each token and session was issued (the client's User-Agent and address, as the server
-- resolved them), so that its owner can tell devices apart when listing and revoking them.
-- Rows issued before this step, or without a request (the command line), keep them empty.
ALTER TABLE authtoken_token ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE authtoken_token ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_session ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_session ADD COLUMN address TEXT NOT NULL DEFAULT '';
