-- Beside the cut-off: why it last moved (0 a new password, 1 "log out everywhere", 2 a
-- deactivation), and whether staff or a command deactivated the account.
ALTER TABLE restauth_user_state ADD COLUMN cut_off_cause INTEGER NOT NULL DEFAULT 0;
ALTER TABLE restauth_user_state ADD COLUMN deactivated_by_admin INTEGER NOT NULL DEFAULT 0;
