//! Authentication and permission classes as settings name them (DRF's class lists).

use serde::Deserialize;

/// The built-in authentication classes, by the names settings and policies use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthClass {
    /// DRF's `SessionAuthentication`: Django's session cookie, with its CSRF check.
    Session,
    /// DRF's `BasicAuthentication`: `Authorization: Basic`, a password check per request.
    Basic,
    /// DRF's `TokenAuthentication`: `Authorization: Token <key>`.
    Token,
    /// simplejwt's `JWTAuthentication`: `Authorization: Bearer <access token>`.
    Jwt,
}

impl AuthClass {
    /// The four, in the order of `default_authentication_classes`' default.
    pub const ALL: [AuthClass; 4] = [
        AuthClass::Session,
        AuthClass::Basic,
        AuthClass::Token,
        AuthClass::Jwt,
    ];

    /// The registered name: `"session"`, `"basic"`, `"token"` or `"jwt"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthClass::Session => "session",
            AuthClass::Basic => "basic",
            AuthClass::Token => "token",
            AuthClass::Jwt => "jwt",
        }
    }

    /// DRF's and simplejwt's class names (`TokenAuthentication`, also as a dotted path).
    fn from_drf(name: &str) -> Option<AuthClass> {
        match name.rsplit('.').next()? {
            "SessionAuthentication" => Some(AuthClass::Session),
            "BasicAuthentication" => Some(AuthClass::Basic),
            "TokenAuthentication" => Some(AuthClass::Token),
            "JWTAuthentication" => Some(AuthClass::Jwt),
            _ => None,
        }
    }
}

impl AsRef<str> for AuthClass {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// An entry of `default_authentication_classes`: a built-in class (also under DRF's class
/// name) or one an app registered. Unknown names are refused when the app starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassName(String);

impl ClassName {
    /// The name as settings and policies spell it (`"token"`, or an app's own).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<AuthClass> for ClassName {
    fn from(c: AuthClass) -> Self {
        ClassName(c.as_str().to_owned())
    }
}

impl From<&str> for ClassName {
    fn from(name: &str) -> Self {
        match AuthClass::from_drf(name) {
            Some(c) => c.into(),
            None => ClassName(name.to_owned()),
        }
    }
}

impl PartialEq<AuthClass> for ClassName {
    fn eq(&self, other: &AuthClass) -> bool {
        self.0 == other.as_str()
    }
}

impl<'de> Deserialize<'de> for ClassName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(ClassName::from(name.as_str()))
    }
}

/// The names of the permission classes, as `default_permission_classes` spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionClass {
    /// DRF's `AllowAny` (`"allow_any"`): every request, anonymous or not.
    #[serde(alias = "AllowAny")]
    AllowAny,
    /// DRF's `IsAuthenticated` (`"is_authenticated"`): any authenticated user.
    #[serde(alias = "IsAuthenticated")]
    IsAuthenticated,
    /// DRF's `IsAdminUser` (`"is_admin_user"`): users with Django's `is_staff`.
    #[serde(alias = "IsAdminUser")]
    IsAdminUser,
    /// DRF's `IsAuthenticatedOrReadOnly` (`"is_authenticated_or_read_only"`): anyone may read
    /// (`GET`, `HEAD`, `OPTIONS`), only users may write.
    #[serde(alias = "IsAuthenticatedOrReadOnly")]
    IsAuthenticatedOrReadOnly,
}
