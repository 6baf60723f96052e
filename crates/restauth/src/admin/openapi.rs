//! The OpenAPI description of [`router`](super::router): the staff API under
//! `/api/admin/users/`.

use utoipa::openapi::{ArrayBuilder, OpenApi, RefOr, Schema};

use crate::core::settings::Settings;
use crate::pipeline::openapi::{
    Describer, Guard, Op, SEND_CSRF, boolean, csrf_header, date_time, empty_response, integer,
    json_response, nullable_date_time, nullable_string, object, parsed_body, path_parameter,
    query_parameter, required_object, schema_ref, string,
};

/// Why a staff member who is not a superuser may get 403 (besides `IsAdminUser`).
const SUPERUSER_ONLY: &str = "Only an active superuser may act on a superuser; anyone else gets \
                              403 and nothing changes.";

/// What the views need beyond `is_staff`.
const READ: &str = "Needs `is_staff` and the permission `auth.view_user` or `auth.change_user` \
                    (held directly or through a group; an active superuser holds every \
                    permission); anyone else gets 403.";
const CHANGE: &str = "Needs `is_staff` and the permission `auth.change_user`; anyone else gets \
                      403.";

/// The staff views and their schemas.
pub fn document(settings: &Settings) -> OpenApi {
    let d = Describer::new(settings);
    let staff = || Guard::Required(d.defaults());
    let not_found = || json_response("No such object (or not the caller's)", "Detail");
    let list = Op::new("admin_users", "admin", "List users", staff())
        .describe(format!(
            "{READ} DRF's `PageNumberPagination`, {} users a page (`[rest_framework] page_size`), in \
             id order; `search` keeps users whose username or e-mail contains every term \
             (case-insensitive, terms split at spaces and commas). An out-of-range `page` \
             answers 404 `Invalid page.`.",
            settings.rest_framework.page_size()
        ))
        .parameter(query_parameter(
            "page",
            "The page number (from 1), or `last`",
        ))
        .parameter(query_parameter(
            "search",
            "Terms to look for in username and e-mail",
        ))
        .respond("200", json_response("A page of users", "UserPage"))
        .respond("404", json_response("Invalid page", "Detail"));
    let create = Op::new("admin_user_create", "admin", "Create a user", staff())
        .describe(
            "Needs `is_staff` and the permission `auth.add_user`. Django's username and \
             password validators apply; a taken username answers `A user with that username \
             already exists.`. Only an active superuser may set `is_staff` or \
             `is_superuser`; anyone else gets 403 and no user is created.",
        )
        .parameter(csrf_header())
        .body(parsed_body(schema_ref("NewUser"), true))
        .respond("201", json_response("The user", "StaffUser"));
    let detail = Op::new("admin_user", "admin", "One user", staff())
        .describe(format!(
            "{READ} With the user's groups, the permissions granted to the user \
             (`user_permissions`), and every permission held directly or through a group \
             (`permissions`, Django's `get_all_permissions`: none for an inactive user; an \
             active superuser holds every permission whatever it lists)."
        ))
        .parameter(path_parameter("id", "The user's id", true))
        .respond("200", json_response("The user", "StaffUserDetail"))
        .respond("404", not_found());
    let action = |id, summary, text: &str| {
        let op = Op::new(id, "admin", summary, staff())
            .describe(format!("{text} {CHANGE} {SUPERUSER_ONLY} {SEND_CSRF}"))
            .parameter(path_parameter("id", "The user's id", true))
            .parameter(csrf_header())
            .respond("204", empty_response("Done"))
            .respond("404", not_found());
        d.post(op, true)
    };
    let mut users = d.get(list, true);
    users.merge_operations(d.post(create, true));
    let paths = vec![
        ("/api/admin/users/".to_owned(), users),
        ("/api/admin/users/{id}/".to_owned(), d.get(detail, true)),
        (
            "/api/admin/users/{id}/deactivate/".to_owned(),
            action(
                "admin_user_deactivate",
                "Deactivate a user",
                "Marks the user inactive and ends every credential issued until now, as \
                 `restauth deactivate_user`.",
            ),
        ),
        (
            "/api/admin/users/{id}/activate/".to_owned(),
            action(
                "admin_user_activate",
                "Activate a user",
                "Marks the user active again (credentials ended by the deactivation stay \
                 ended).",
            ),
        ),
        (
            "/api/admin/users/{id}/revoke/".to_owned(),
            action(
                "admin_user_revoke",
                "End a user's credentials",
                "Ends every token, session and JWT of the user issued until now.",
            ),
        ),
    ];
    d.document(
        &[("admin", "The staff API (IsAdminUser)")],
        paths,
        schemas(),
    )
}

fn schemas() -> Vec<(&'static str, RefOr<Schema>)> {
    // What staff may set, past the username: `NewUser` and `StaffUser` share them.
    let editable = || {
        [
            ("email", string()),
            ("first_name", string()),
            ("last_name", string()),
            ("is_active", boolean()),
            ("is_staff", boolean()),
            ("is_superuser", boolean()),
        ]
    };
    let fields = || {
        [("id", integer()), ("username", string())]
            .into_iter()
            .chain(editable())
            .chain([
                ("date_joined", date_time()),
                ("last_login", nullable_date_time()),
            ])
    };
    let user = required_object(fields());
    let names = || ArrayBuilder::new().items(string());
    let detail = required_object(fields())
        .property("groups", names())
        .required("groups")
        .property("user_permissions", names())
        .required("user_permissions")
        .property("permissions", names())
        .required("permissions");
    let page = object(
        [
            ("count", integer()),
            ("next", nullable_string()),
            ("previous", nullable_string()),
        ],
        &["count", "next", "previous", "results"],
    )
    .property(
        "results",
        ArrayBuilder::new().items(schema_ref("StaffUser")),
    );
    let new_user = object(
        [("username", string()), ("password", string())]
            .into_iter()
            .chain(editable()),
        &["username", "password"],
    );
    vec![
        ("StaffUser", user.into()),
        ("StaffUserDetail", detail.into()),
        ("UserPage", page.into()),
        ("NewUser", new_user.into()),
    ]
}
