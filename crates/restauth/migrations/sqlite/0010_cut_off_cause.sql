-- Why the revocation cut-off last moved (0 a new password, 1 "log out everywhere", 2 a
-- deactivation), so a refused credential can say why; and whether staff or a command
-- deactivated the account, which an activation link may then not undo.
ALTER TABLE auth_user ADD COLUMN cut_off_cause INTEGER NOT NULL DEFAULT 0;
ALTER TABLE auth_user ADD COLUMN deactivated_by_admin INTEGER NOT NULL DEFAULT 0;
