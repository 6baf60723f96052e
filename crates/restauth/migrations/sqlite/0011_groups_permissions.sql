-- Django's authorization model: permissions named `app_label.codename`, groups, and what each
-- user and group holds. Django keeps the app label on a content type; restauth has no models,
-- so the label sits on the permission itself.
CREATE TABLE auth_permission (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_label TEXT NOT NULL,
    codename TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (app_label, codename)
);

CREATE TABLE auth_group (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE auth_group_permissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL REFERENCES auth_group (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES auth_permission (id) ON DELETE CASCADE,
    UNIQUE (group_id, permission_id)
);

CREATE TABLE auth_user_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES auth_user (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES auth_group (id) ON DELETE CASCADE,
    UNIQUE (user_id, group_id)
);

CREATE TABLE auth_user_user_permissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES auth_user (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES auth_permission (id) ON DELETE CASCADE,
    UNIQUE (user_id, permission_id)
);

-- What Django's post_migrate gives the user model.
INSERT INTO auth_permission (app_label, codename, name) VALUES
    ('auth', 'add_user', 'Can add user'),
    ('auth', 'change_user', 'Can change user'),
    ('auth', 'delete_user', 'Can delete user'),
    ('auth', 'view_user', 'Can view user');
