//! Authentication and permission classes as settings name them (DRF's class lists).

use serde::Deserialize;

/// The built-in authentication classes, by the names settings and policies use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthClass {
    Session,
    Basic,
    Token,
    Jwt,
}

impl AuthClass {
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
    #[serde(alias = "AllowAny")]
    AllowAny,
    #[serde(alias = "IsAuthenticated")]
    IsAuthenticated,
    #[serde(alias = "IsAdminUser")]
    IsAdminUser,
    #[serde(alias = "IsAuthenticatedOrReadOnly")]
    IsAuthenticatedOrReadOnly,
}
