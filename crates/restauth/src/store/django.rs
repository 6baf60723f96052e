//! What a store over a live Django project's own tables (`[database] schema_flavor = "django"`)
//! does Django's way beyond its tables and columns: sessions are Django's signed
//! `session_data`, which names the user with `_auth_user_id`, `_auth_user_backend` and
//! `_auth_user_hash`, signed with `secret_key` (Django's `SECRET_KEY`) under Django's session
//! salt. The tables themselves are a map over the one SQL implementation (`sql::schema`).

use serde_json::json;

use super::SessionRecord;

/// Signs and reads `django_session.session_data` as Django's database session backend does.
/// Given to the store by the composition root (the store sits below `crate::django`, which
/// implements it).
pub trait SessionCodec: Send + Sync + 'static {
    /// The signed text of `value`, signed at `signed_at` (Unix seconds).
    fn sign(&self, value: &serde_json::Value, signed_at: u64) -> String;
    /// The value and signing time (Unix seconds) of `text`, if it carries a valid signature.
    fn unsign(&self, text: &str) -> Option<(serde_json::Value, i64)>;
}

/// Django's sessions as restauth reads and writes them.
pub(crate) struct DjangoSessions {
    /// Django's session signing (with `secret_key`, Django's `SECRET_KEY`).
    pub codec: std::sync::Arc<dyn SessionCodec>,
    /// `_auth_user_backend` of the sessions restauth starts.
    pub backend: String,
}

/// What a `session_data` value says about its login.
pub(crate) struct DjangoLogin {
    pub user_id: crate::core::user_id::UserId,
    pub auth_hash: String,
    /// When Django (or restauth) last signed it, Unix seconds.
    pub signed_at: i64,
}

impl DjangoSessions {
    /// What Django's login() stores for `session`, signed as Django's database session backend
    /// signs it.
    pub fn data(&self, session: &SessionRecord) -> String {
        self.codec.sign(
            &json!({
                "_auth_user_id": session.user_id.to_string(),
                "_auth_user_backend": self.backend,
                "_auth_user_hash": session.auth_hash,
            }),
            u64::try_from(session.created.div_euclid(1000)).unwrap_or(0),
        )
    }

    /// The login a `session_data` value carries, if signed with our key and logged in.
    pub fn login(&self, data: &str) -> Option<DjangoLogin> {
        let (value, signed_at) = self.codec.unsign(data)?;
        let object = value.as_object()?;
        // Django writes `str(pk)`: the digits of an integer, the dashed form of a UUID.
        let user_id = crate::core::user_id::UserId::from_json(object.get("_auth_user_id")?)?;
        let auth_hash = object.get("_auth_user_hash")?.as_str()?.to_owned();
        Some(DjangoLogin {
            user_id,
            auth_hash,
            signed_at,
        })
    }
}
