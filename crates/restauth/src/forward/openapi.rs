//! The OpenAPI description of [`router`](super::router): `/auth/forward/`, when enabled.

use utoipa::openapi::{HttpMethod, OpenApi};

use super::PATH;
use crate::core::settings::{PermissionClass, Settings};
use crate::pipeline::openapi::{
    Describer, Guard, Op, SharedResponse, boolean, integer, json_response, object, slashed, string,
};

/// `/auth/forward/` under any method, as the proxy asks (GET from nginx and Traefik, the
/// original method from Envoy), when `[forward_auth] enabled`; else no path. The path below it
/// that Envoy appends is not a resource of its own and is left out.
pub fn document(settings: &Settings) -> OpenApi {
    let d = Describer::new(settings);
    let forward = &settings.forward_auth;
    if !forward.enabled {
        return d.document(&[], Vec::new(), Vec::new());
    }
    let classes = match &forward.authentication_classes {
        Some(names) => Describer::classes(names),
        None => d.defaults(),
    };
    let open = forward
        .permission_classes
        .iter()
        .all(|p| *p == PermissionClass::AllowAny);
    let description = format!(
        "The original request's method, path and host come from {}, {} and X-Forwarded-Host \
         (or the request itself); a request that also carries the other spelling of the \
         method or path header is refused with 400. 200 names the user in the \
         `[forward_auth]` headers (X-Auth-User, X-Auth-User-Id, X-Auth-Is-Staff by default); \
         otherwise DRF's 401 or 403.",
        settings.forward_auth.method_header, settings.forward_auth.uri_header
    );
    let op = |id| {
        let guard = if open {
            Guard::Optional(classes.clone())
        } else {
            Guard::Required(classes.clone())
        };
        let op = Op::new(id, "forward", "Authenticate a request for a proxy", guard)
            .describe(&description)
            .respond("200", json_response("The request may pass", "ForwardAuth"))
            .respond_with(&[SharedResponse::BadRequest]);
        d.api_view(op)
    };
    let mut item = d.item(HttpMethod::Get, op("forward_auth_get"));
    for (method, id) in [
        (HttpMethod::Post, "forward_auth_post"),
        (HttpMethod::Put, "forward_auth_put"),
        (HttpMethod::Patch, "forward_auth_patch"),
        (HttpMethod::Delete, "forward_auth_delete"),
    ] {
        item.merge_operations(d.item(method, op(id)));
    }
    let answer = object(
        [
            ("authenticated", boolean()),
            ("username", string()),
            ("id", integer()),
        ],
        &["authenticated"],
    );
    d.document(
        &[(
            "forward",
            "Forward authentication for a reverse proxy ([forward_auth] enabled)",
        )],
        vec![(slashed(PATH), item)],
        vec![("ForwardAuth", answer.into())],
    )
}
