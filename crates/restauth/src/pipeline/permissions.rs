//! Permission classes: all of a route's permissions must pass.
//!
//! The four DRF classes, Django's model permissions ([`DjangoModelPermissions`],
//! [`DjangoModelPermissionsOrAnonReadOnly`], [`HasPerms`]), plus composition with `&`, `|` and
//! `!` (DRF's `&`, `|`, `~`), with DRF 3.15's object-level semantics for `|`. Checks are
//! synchronous: they look at the request and the identity the authenticators produced, never
//! at the store. A class that reads the user's permissions says so
//! ([`Permission::needs_permissions`]), and the policy has them loaded before it runs.

use std::any::{Any, TypeId};
use std::sync::Arc;

use http::{HeaderMap, Method, Uri};

use crate::core::user::{Identity, User};

/// What a permission may look at.
pub struct RequestInfo<'a> {
    /// The request's method (DRF's `request.method`).
    pub method: &'a Method,
    /// The request's URI.
    pub uri: &'a Uri,
    /// The request's headers.
    pub headers: &'a HeaderMap,
    /// Who the authentication classes said the caller is (DRF's `request.user` and `request.auth`).
    pub identity: &'a Identity,
}

impl RequestInfo<'_> {
    /// DRF's `request.user`: `None` when anonymous.
    pub fn user(&self) -> Option<&User> {
        self.identity.user.as_deref()
    }

    /// GET, HEAD or OPTIONS: DRF's `SAFE_METHODS`.
    pub fn is_safe_method(&self) -> bool {
        crate::core::request::is_safe_method(self.method)
    }
}

/// DRF's `BasePermission`.
///
/// A class with an object-level check is best written as an [`ObjectPermission`], which names
/// the type of object it checks: a handler that checks an object of another type then gets a
/// logged 500 naming both types, not a 403 that looks like a refusal.
pub trait Permission: Send + Sync + 'static {
    /// DRF's `has_permission`: whether the request may go on, before the handler runs.
    fn has_permission(&self, request: &RequestInfo<'_>) -> bool;

    /// Checked when a handler asks, for the object it is about to act on.
    fn has_object_permission(&self, request: &RequestInfo<'_>, object: &dyn Any) -> bool {
        let _ = (request, object);
        true
    }

    /// The `detail` when this permission refuses; DRF's default when `None`.
    fn message(&self) -> Option<&str> {
        None
    }

    /// Whether the checks read the user's groups and permissions ([`User::has_perm`]): the
    /// policy then loads them (once per cached user) before asking. `false` by default, so
    /// routes that never look at permissions never read them.
    fn needs_permissions(&self) -> bool {
        false
    }

    /// `Err(expected)` when [`has_object_permission`](Self::has_object_permission) looks for
    /// another type of object than `found`: it could only refuse, whoever asks. Checked
    /// before every object check; a composition asks each of its parts.
    fn check_object_type(&self, found: ObjectType) -> Result<(), ObjectType> {
        let _ = found;
        Ok(())
    }
}

impl<P: Permission + ?Sized> Permission for Arc<P> {
    fn has_permission(&self, request: &RequestInfo<'_>) -> bool {
        (**self).has_permission(request)
    }
    fn has_object_permission(&self, request: &RequestInfo<'_>, object: &dyn Any) -> bool {
        (**self).has_object_permission(request, object)
    }
    fn message(&self) -> Option<&str> {
        (**self).message()
    }
    fn needs_permissions(&self) -> bool {
        (**self).needs_permissions()
    }
    fn check_object_type(&self, found: ObjectType) -> Result<(), ObjectType> {
        (**self).check_object_type(found)
    }
}

/// A Rust type, with its name for the log.
#[derive(Clone, Copy, Debug)]
pub struct ObjectType {
    id: TypeId,
    name: &'static str,
}

impl ObjectType {
    /// The type `T`.
    pub fn of<T: Any>() -> Self {
        ObjectType {
            id: TypeId::of::<T>(),
            name: std::any::type_name::<T>(),
        }
    }

    /// The type's name, as `std::any::type_name` gives it.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl PartialEq for ObjectType {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for ObjectType {}

/// A permission with an object-level check on one type of object: DRF's `BasePermission`
/// with `has_object_permission`, typed. Every `ObjectPermission` is a [`Permission`].
///
/// ```
/// use restauth::pipeline::permissions::{ObjectPermission, RequestInfo};
///
/// struct Note {
///     owner: i64,
/// }
///
/// /// DRF tutorial's `IsOwnerOrReadOnly`.
/// struct IsOwnerOrReadOnly;
/// impl ObjectPermission for IsOwnerOrReadOnly {
///     type Object = Note;
///     fn has_object_permission(&self, request: &RequestInfo<'_>, note: &Note) -> bool {
///         request.is_safe_method() || request.user().is_some_and(|u| u.id == note.owner)
///     }
/// }
/// restauth::permission_operators!(IsOwnerOrReadOnly);
///
/// let _ = restauth::IsAuthenticatedOrReadOnly & IsOwnerOrReadOnly;
/// ```
pub trait ObjectPermission: Send + Sync + 'static {
    /// The type handlers pass to [`Access::check_object`](crate::Access::check_object).
    type Object: Any;

    /// DRF's `has_permission`, checked before the handler runs; lets every request through
    /// unless overridden, as DRF's `BasePermission` does.
    fn has_permission(&self, request: &RequestInfo<'_>) -> bool {
        let _ = request;
        true
    }

    /// DRF's `has_object_permission`, checked when a handler asks, for the object it acts on.
    fn has_object_permission(&self, request: &RequestInfo<'_>, object: &Self::Object) -> bool;

    /// The `detail` when this permission refuses; DRF's default when `None`.
    fn message(&self) -> Option<&str> {
        None
    }
}

impl<P: ObjectPermission> Permission for P {
    fn has_permission(&self, request: &RequestInfo<'_>) -> bool {
        ObjectPermission::has_permission(self, request)
    }
    fn has_object_permission(&self, request: &RequestInfo<'_>, object: &dyn Any) -> bool {
        // The policy checked the type first; another one is refused, never let through.
        object
            .downcast_ref::<P::Object>()
            .is_some_and(|o| ObjectPermission::has_object_permission(self, request, o))
    }
    fn message(&self) -> Option<&str> {
        ObjectPermission::message(self)
    }
    fn check_object_type(&self, found: ObjectType) -> Result<(), ObjectType> {
        let expected = ObjectType::of::<P::Object>();
        if expected == found {
            Ok(())
        } else {
            Err(expected)
        }
    }
}

/// Allows everyone.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAny;

/// Allows authenticated users.
#[derive(Clone, Copy, Debug, Default)]
pub struct IsAuthenticated;

/// Allows users with `is_staff` (not `is_superuser`), as DRF.
#[derive(Clone, Copy, Debug, Default)]
pub struct IsAdminUser;

/// Allows safe methods to everyone and the rest to authenticated users.
#[derive(Clone, Copy, Debug, Default)]
pub struct IsAuthenticatedOrReadOnly;

impl Permission for AllowAny {
    fn has_permission(&self, _: &RequestInfo<'_>) -> bool {
        true
    }
}

impl Permission for IsAuthenticated {
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        r.identity.is_authenticated()
    }
}

impl Permission for IsAdminUser {
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        r.identity.is_staff()
    }
}

impl Permission for IsAuthenticatedOrReadOnly {
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        r.is_safe_method() || r.identity.is_authenticated()
    }
}

/// DRF's `DjangoModelPermissions` for the model `model_name` of the app `app_label`: every
/// request needs an authenticated user, and DRF's `perms_map` says what else: `POST` needs
/// `<app_label>.add_<model_name>`, `PUT` and `PATCH` `….change_…`, `DELETE` `….delete_…`;
/// `GET`, `HEAD` and `OPTIONS` need nothing more. Any other method is refused. A user has a
/// permission as [`User::has_perm`] says (an active superuser has all).
///
/// ```
/// use restauth::DjangoModelPermissions;
/// let notes = DjangoModelPermissions::new("notes", "note");
/// # let _ = notes;
/// ```
#[derive(Clone, Debug)]
pub struct DjangoModelPermissions {
    app_label: String,
    model_name: String,
}

/// [`DjangoModelPermissions`] that also lets anonymous requests read (DRF's
/// `DjangoModelPermissionsOrAnonReadOnly`): `GET`, `HEAD` and `OPTIONS` pass for everyone.
#[derive(Clone, Debug)]
pub struct DjangoModelPermissionsOrAnonReadOnly(pub DjangoModelPermissions);

/// Allows authenticated users who hold every one of these permissions (`"app_label.codename"`,
/// Django's `has_perms`), whatever the method: `HasPerms(["notes.add_note"])`.
#[derive(Clone, Copy, Debug)]
pub struct HasPerms<const N: usize>(pub [&'static str; N]);

impl DjangoModelPermissions {
    /// The permissions of Django's model `app_label.model_name` (lower case, as Django's
    /// codenames are: `DjangoModelPermissions::new("notes", "note")` asks `notes.add_note` of a
    /// POST).
    pub fn new(app_label: impl Into<String>, model_name: impl Into<String>) -> Self {
        DjangoModelPermissions {
            app_label: app_label.into(),
            model_name: model_name.into(),
        }
    }

    /// The permission a method needs, DRF's `perms_map`: `Ok(None)` for none, `Err(())` for a
    /// method it does not know.
    fn required(&self, method: &Method) -> Result<Option<String>, ()> {
        let action = match *method {
            Method::GET | Method::HEAD | Method::OPTIONS => return Ok(None),
            Method::POST => "add",
            Method::PUT | Method::PATCH => "change",
            Method::DELETE => "delete",
            _ => return Err(()),
        };
        Ok(Some(format!(
            "{}.{action}_{}",
            self.app_label, self.model_name
        )))
    }

    fn check(&self, r: &RequestInfo<'_>, anonymous_reads: bool) -> bool {
        let required = match self.required(r.method) {
            Ok(required) => required,
            Err(()) => return false,
        };
        match (r.user(), required) {
            (Some(user), Some(perm)) => user.has_perm(&perm),
            (Some(_), None) => true,
            (None, None) => anonymous_reads,
            (None, Some(_)) => false,
        }
    }
}

impl DjangoModelPermissionsOrAnonReadOnly {
    /// As [`DjangoModelPermissions::new`], with reads open to anonymous requests.
    pub fn new(app_label: impl Into<String>, model_name: impl Into<String>) -> Self {
        DjangoModelPermissionsOrAnonReadOnly(DjangoModelPermissions::new(app_label, model_name))
    }
}

impl Permission for DjangoModelPermissions {
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        self.check(r, false)
    }
    fn needs_permissions(&self) -> bool {
        true
    }
}

impl Permission for DjangoModelPermissionsOrAnonReadOnly {
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        self.0.check(r, true)
    }
    fn needs_permissions(&self) -> bool {
        true
    }
}

impl<const N: usize> Permission for HasPerms<N> {
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        r.user().is_some_and(|u| u.has_perms(&self.0))
    }
    fn needs_permissions(&self) -> bool {
        true
    }
}

impl<const N: usize, Rhs: Permission> std::ops::BitAnd<Rhs> for HasPerms<N> {
    type Output = And<Self, Rhs>;
    fn bitand(self, rhs: Rhs) -> Self::Output {
        And(self, rhs)
    }
}

impl<const N: usize, Rhs: Permission> std::ops::BitOr<Rhs> for HasPerms<N> {
    type Output = Or<Self, Rhs>;
    fn bitor(self, rhs: Rhs) -> Self::Output {
        Or(self, rhs)
    }
}

impl<const N: usize> std::ops::Not for HasPerms<N> {
    type Output = Not<Self>;
    fn not(self) -> Self::Output {
        Not(self)
    }
}

/// `a & b`.
#[derive(Clone, Copy, Debug)]
pub struct And<A, B>(pub A, pub B);
/// `a | b`.
#[derive(Clone, Copy, Debug)]
pub struct Or<A, B>(pub A, pub B);
/// `!a` (DRF's `~a`): inverts both checks, so `!IsAdminUser` refuses every object.
#[derive(Clone, Copy, Debug)]
pub struct Not<A>(pub A);

impl<A: Permission, B: Permission> Permission for And<A, B> {
    fn needs_permissions(&self) -> bool {
        self.0.needs_permissions() || self.1.needs_permissions()
    }
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        self.0.has_permission(r) && self.1.has_permission(r)
    }
    fn has_object_permission(&self, r: &RequestInfo<'_>, o: &dyn Any) -> bool {
        self.0.has_object_permission(r, o) && self.1.has_object_permission(r, o)
    }
    fn check_object_type(&self, found: ObjectType) -> Result<(), ObjectType> {
        self.0.check_object_type(found)?;
        self.1.check_object_type(found)
    }
}

impl<A: Permission, B: Permission> Permission for Or<A, B> {
    fn needs_permissions(&self) -> bool {
        self.0.needs_permissions() || self.1.needs_permissions()
    }
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        self.0.has_permission(r) || self.1.has_permission(r)
    }
    // Each side must pass both of its own checks; a mix of one side's has_permission and the
    // other's object check would let a request through that neither side allows.
    fn has_object_permission(&self, r: &RequestInfo<'_>, o: &dyn Any) -> bool {
        (self.0.has_permission(r) && self.0.has_object_permission(r, o))
            || (self.1.has_permission(r) && self.1.has_object_permission(r, o))
    }
    fn check_object_type(&self, found: ObjectType) -> Result<(), ObjectType> {
        self.0.check_object_type(found)?;
        self.1.check_object_type(found)
    }
}

impl<A: Permission> Permission for Not<A> {
    fn needs_permissions(&self) -> bool {
        self.0.needs_permissions()
    }
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        !self.0.has_permission(r)
    }
    fn has_object_permission(&self, r: &RequestInfo<'_>, o: &dyn Any) -> bool {
        !self.0.has_object_permission(r, o)
    }
    fn check_object_type(&self, found: ObjectType) -> Result<(), ObjectType> {
        self.0.check_object_type(found)
    }
}

/// Method-style composition for any permission, including custom ones.
pub trait PermissionExt: Permission + Sized {
    /// Both must pass, as `self & other`.
    fn and<B: Permission>(self, other: B) -> And<Self, B> {
        And(self, other)
    }
    /// Either must pass, as `self | other`.
    fn or<B: Permission>(self, other: B) -> Or<Self, B> {
        Or(self, other)
    }
    /// The opposite, as `!self`.
    fn negate(self) -> Not<Self> {
        Not(self)
    }
}

impl<P: Permission> PermissionExt for P {}

/// DRF's `&`, `|` and `!` for an app's own permission classes, which Rust lets only the crate
/// that defines a type give it:
///
/// ```
/// use restauth::pipeline::permissions::{Permission, RequestInfo};
/// use restauth::{IsAuthenticated, IsAuthenticatedOrReadOnly};
///
/// struct IsOwnerOrReadOnly;
/// impl Permission for IsOwnerOrReadOnly {
///     fn has_permission(&self, _: &RequestInfo<'_>) -> bool {
///         true
///     }
/// }
/// restauth::permission_operators!(IsOwnerOrReadOnly);
///
/// // The app's class on either side, as in DRF.
/// let _ = IsOwnerOrReadOnly & IsAuthenticated;
/// let _ = IsAuthenticatedOrReadOnly & IsOwnerOrReadOnly | !IsOwnerOrReadOnly;
/// ```
///
/// Generic types name their parameters in brackets first: `permission_operators!([T] Owns<T>)`.
#[macro_export]
macro_rules! permission_operators {
    ($([$($g:ident),*] $t:ty),+ $(,)?) => {$(
        impl<$($g: $crate::pipeline::permissions::Permission,)* Rhs: $crate::pipeline::permissions::Permission>
            ::std::ops::BitAnd<Rhs> for $t
        {
            type Output = $crate::pipeline::permissions::And<Self, Rhs>;
            fn bitand(self, rhs: Rhs) -> Self::Output {
                $crate::pipeline::permissions::And(self, rhs)
            }
        }
        impl<$($g: $crate::pipeline::permissions::Permission,)* Rhs: $crate::pipeline::permissions::Permission>
            ::std::ops::BitOr<Rhs> for $t
        {
            type Output = $crate::pipeline::permissions::Or<Self, Rhs>;
            fn bitor(self, rhs: Rhs) -> Self::Output {
                $crate::pipeline::permissions::Or(self, rhs)
            }
        }
        impl<$($g: $crate::pipeline::permissions::Permission),*> ::std::ops::Not for $t {
            type Output = $crate::pipeline::permissions::Not<Self>;
            fn not(self) -> Self::Output {
                $crate::pipeline::permissions::Not(self)
            }
        }
    )+};
    ($($t:ty),+ $(,)?) => {
        $crate::permission_operators!($([] $t),+);
    };
}

// The built-in classes and their compositions get the same operators.
permission_operators!(
    [] AllowAny,
    [] IsAuthenticated,
    [] IsAdminUser,
    [] IsAuthenticatedOrReadOnly,
    [] DjangoModelPermissions,
    [] DjangoModelPermissionsOrAnonReadOnly,
    [A, B] And<A, B>,
    [A, B] Or<A, B>,
    [A] Not<A>,
);

/// A permission built from its configuration name.
pub(crate) fn from_class(class: crate::core::settings::PermissionClass) -> Arc<dyn Permission> {
    use crate::core::settings::PermissionClass as C;
    match class {
        C::AllowAny => Arc::new(AllowAny),
        C::IsAuthenticated => Arc::new(IsAuthenticated),
        C::IsAdminUser => Arc::new(IsAdminUser),
        C::IsAuthenticatedOrReadOnly => Arc::new(IsAuthenticatedOrReadOnly),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::user::AuthInfo;

    fn identity(user: Option<(bool, bool)>) -> Identity {
        match user {
            None => Identity::anonymous(),
            Some((is_staff, is_superuser)) => Identity::authenticated(
                Arc::new(User {
                    id: crate::core::user_id::UserId::Int(1),
                    username: "u".into(),
                    email: String::new(),
                    first_name: String::new(),
                    last_name: String::new(),
                    password: String::new(),
                    is_active: true,
                    is_staff,
                    is_superuser,
                    date_joined: 0,
                    last_login: None,
                    valid_after: 0,
                    cut_off_cause: Default::default(),
                    deactivated_by_admin: false,
                    permissions: Default::default(),
                    extra: Default::default(),
                }),
                AuthInfo::Basic,
            ),
        }
    }

    fn check(p: &dyn Permission, method: Method, who: Option<(bool, bool)>) -> bool {
        allows(p, method, &identity(who))
    }

    const ANON: Option<(bool, bool)> = None;
    const USER: Option<(bool, bool)> = Some((false, false));
    const STAFF: Option<(bool, bool)> = Some((true, false));
    const SUPER: Option<(bool, bool)> = Some((false, true));

    /// An app's own class: only staff, written outside the built-ins' list.
    struct StaffOnly;
    impl Permission for StaffOnly {
        fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
            r.identity.user.as_ref().is_some_and(|u| u.is_staff)
        }
    }
    crate::permission_operators!(StaffOnly);

    #[test]
    fn an_apps_own_class_composes_on_either_side() {
        assert!(check(&(StaffOnly & IsAuthenticated), Method::GET, STAFF));
        assert!(!check(&(StaffOnly & IsAuthenticated), Method::GET, USER));
        assert!(check(
            &(IsAuthenticatedOrReadOnly & !StaffOnly),
            Method::GET,
            ANON
        ));
        assert!(!check(&(IsAuthenticated & !StaffOnly), Method::GET, STAFF));
        assert!(check(&(StaffOnly | AllowAny), Method::POST, ANON));
    }

    #[test]
    fn drf_permission_table() {
        assert!(check(&AllowAny, Method::POST, ANON));
        assert!(!check(&IsAuthenticated, Method::GET, ANON));
        assert!(check(&IsAuthenticated, Method::GET, USER));
        assert!(!check(&IsAdminUser, Method::GET, USER));
        assert!(check(&IsAdminUser, Method::GET, STAFF));
        // is_staff, not is_superuser
        assert!(!check(&IsAdminUser, Method::GET, SUPER));
        for safe in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(check(&IsAuthenticatedOrReadOnly, safe, ANON));
        }
        assert!(!check(&IsAuthenticatedOrReadOnly, Method::POST, ANON));
        assert!(!check(&IsAuthenticatedOrReadOnly, Method::TRACE, ANON));
        assert!(check(&IsAuthenticatedOrReadOnly, Method::POST, USER));
    }

    #[test]
    fn composition_matches_drf_observation() {
        // (IsAdminUser | ~IsAuthenticated): anonymous 200, user 403, staff 200.
        let p = IsAdminUser | !IsAuthenticated;
        assert!(check(&p, Method::GET, ANON));
        assert!(!check(&p, Method::GET, USER));
        assert!(check(&p, Method::GET, STAFF));
        let q = IsAuthenticated & !IsAdminUser;
        assert!(check(&q, Method::GET, USER));
        assert!(!check(&q, Method::GET, STAFF));
        assert!(!check(&q, Method::GET, ANON));
        assert!(check(
            &AllowAny.and(IsAuthenticated.negate()),
            Method::GET,
            ANON
        ));
    }

    struct OwnsNumber;
    impl Permission for OwnsNumber {
        fn has_permission(&self, _: &RequestInfo<'_>) -> bool {
            false
        }
        fn has_object_permission(&self, r: &RequestInfo<'_>, o: &dyn Any) -> bool {
            o.downcast_ref::<i64>()
                .map(|n| crate::core::user_id::UserId::Int(*n))
                == r.user().map(|u| u.id)
        }
    }

    #[test]
    fn object_level_or_needs_both_checks_of_one_side() {
        let id = identity(USER);
        let uri = Uri::from_static("/");
        let headers = HeaderMap::new();
        let r = RequestInfo {
            method: &Method::GET,
            uri: &uri,
            headers: &headers,
            identity: &id,
        };
        // OwnsNumber's object check passes but its has_permission does not; IsAdminUser's
        // object check passes (default) but its has_permission does not: the OR must refuse.
        let p = OwnsNumber.or(IsAdminUser);
        assert!(!p.has_object_permission(&r, &1i64));
        // ~IsAdminUser refuses every object, as in DRF.
        assert!(!(!IsAdminUser).has_object_permission(&r, &1i64));
    }

    fn holding(perms: &[&str], active: bool, superuser: bool) -> Identity {
        let held = crate::core::user::Permissions {
            user: perms.iter().map(|p| (*p).to_owned()).collect(),
            ..Default::default()
        };
        let mut id = identity(Some((false, superuser)));
        if let Some(user) = &mut id.user {
            let u = Arc::make_mut(user);
            u.is_active = active;
            u.permissions = crate::core::user::LoadedPermissions::known(held);
        }
        id
    }

    fn allows(p: &dyn Permission, method: Method, id: &Identity) -> bool {
        let uri = Uri::from_static("/");
        let headers = HeaderMap::new();
        p.has_permission(&RequestInfo {
            method: &method,
            uri: &uri,
            headers: &headers,
            identity: id,
        })
    }

    #[test]
    fn model_permissions_follow_drfs_perms_map() {
        let p = DjangoModelPermissions::new("notes", "note");
        let anon = Identity::anonymous();
        let none = holding(&[], true, false);
        let adder = holding(&["notes.add_note"], true, false);
        let all = holding(
            &["notes.add_note", "notes.change_note", "notes.delete_note"],
            true,
            false,
        );
        for safe in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!allows(&p, safe.clone(), &anon));
            assert!(allows(&p, safe, &none));
        }
        assert!(!allows(&p, Method::POST, &none));
        assert!(allows(&p, Method::POST, &adder));
        assert!(!allows(&p, Method::PUT, &adder));
        for m in [Method::PUT, Method::PATCH, Method::DELETE, Method::POST] {
            assert!(allows(&p, m, &all));
        }
        assert!(!allows(&p, Method::TRACE, &all));
        // An inactive user holds nothing; an active superuser everything.
        assert!(!allows(
            &p,
            Method::POST,
            &holding(&["notes.add_note"], false, false)
        ));
        assert!(allows(&p, Method::DELETE, &holding(&[], true, true)));
        assert!(!allows(&p, Method::DELETE, &holding(&[], false, true)));

        let q = DjangoModelPermissionsOrAnonReadOnly::new("notes", "note");
        assert!(allows(&q, Method::GET, &anon));
        assert!(!allows(&q, Method::POST, &anon));
        assert!(allows(&q, Method::POST, &adder));
        assert!(p.needs_permissions() && q.needs_permissions());
    }

    #[test]
    fn has_perms_composes_and_asks_for_loading() {
        let adder = holding(&["notes.add_note"], true, false);
        let anon = Identity::anonymous();
        assert!(allows(&HasPerms(["notes.add_note"]), Method::GET, &adder));
        assert!(!allows(
            &HasPerms(["notes.add_note", "notes.view_note"]),
            Method::GET,
            &adder
        ));
        assert!(!allows(&HasPerms(["notes.add_note"]), Method::GET, &anon));
        let either = HasPerms(["notes.view_note"]) | HasPerms(["notes.add_note"]);
        assert!(allows(&either, Method::GET, &adder));
        let both = IsAuthenticated & HasPerms(["notes.view_note"]);
        assert!(!allows(&both, Method::GET, &adder));
        assert!(allows(&!HasPerms(["notes.view_note"]), Method::GET, &adder));
        assert!(both.needs_permissions() && either.needs_permissions());
        assert!((!HasPerms(["x.y"])).needs_permissions());
        assert!(!(IsAuthenticated | IsAdminUser).needs_permissions());
        // Not loaded: only superusers hold anything.
        let unloaded = identity(USER);
        assert!(!allows(
            &HasPerms(["notes.add_note"]),
            Method::GET,
            &unloaded
        ));
    }

    /// Owns the `i64` that is its user's id, typed.
    struct OwnsId;
    impl ObjectPermission for OwnsId {
        type Object = i64;
        fn has_object_permission(&self, r: &RequestInfo<'_>, id: &i64) -> bool {
            r.user().is_some_and(|u| u.id == *id)
        }
    }
    crate::permission_operators!(OwnsId);

    #[test]
    fn a_typed_object_permission_names_its_type_through_every_composition() {
        let id = identity(USER);
        let uri = Uri::from_static("/");
        let headers = HeaderMap::new();
        let r = RequestInfo {
            method: &Method::PUT,
            uri: &uri,
            headers: &headers,
            identity: &id,
        };
        let found = ObjectType::of::<Arc<i64>>();
        let compositions: [&dyn Permission; 4] = [
            &OwnsId,
            &(IsAuthenticated & OwnsId),
            &(IsAdminUser | OwnsId),
            &!OwnsId,
        ];
        for p in compositions {
            assert_eq!(p.check_object_type(ObjectType::of::<i64>()), Ok(()));
            let expected = p.check_object_type(found).expect_err("a mismatch");
            assert_eq!(expected, ObjectType::of::<i64>());
            assert_eq!(expected.name(), "i64");
        }
        // Classes without an object type accept any object.
        assert_eq!(
            (IsAuthenticated | IsAdminUser).check_object_type(found),
            Ok(())
        );
        // DRF 3.15's `|` still needs both checks of one side.
        assert!((IsAuthenticated & OwnsId).has_object_permission(&r, &1i64));
        assert!(!(IsAuthenticated & OwnsId).has_object_permission(&r, &2i64));
        assert!(!(IsAdminUser | OwnsId).has_object_permission(&r, &2i64));
    }
}
