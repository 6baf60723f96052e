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
    /// Django's `AUTHENTICATION_BACKENDS`: a session naming another backend is not logged in
    /// (Django's `get_user`); the first is written into the sessions restauth starts.
    pub backends: Vec<String>,
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
                "_auth_user_backend": self.backends.first(),
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
        let backend = object.get("_auth_user_backend")?.as_str()?;
        if !self.backends.iter().any(|b| b == backend) {
            return None;
        }
        let auth_hash = object.get("_auth_user_hash")?.as_str()?.to_owned();
        Some(DjangoLogin {
            user_id,
            auth_hash,
            signed_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A codec that "signs" by prefixing the key: enough to test what the store does with a
    /// verified value (the real signing is `crate::django::session`'s, tested there).
    struct Plain(&'static str);

    impl SessionCodec for Plain {
        fn sign(&self, value: &serde_json::Value, signed_at: u64) -> String {
            format!("{}:{signed_at}:{value}", self.0)
        }

        fn unsign(&self, text: &str) -> Option<(serde_json::Value, i64)> {
            let rest = text.strip_prefix(self.0)?.strip_prefix(':')?;
            let (at, value) = rest.split_once(':')?;
            Some((serde_json::from_str(value).ok()?, at.parse().ok()?))
        }
    }

    fn sessions(backends: &[&str]) -> DjangoSessions {
        DjangoSessions {
            codec: std::sync::Arc::new(Plain("key")),
            backends: backends.iter().map(|b| b.to_string()).collect(),
        }
    }

    fn data(signer: &DjangoSessions, backend: &str) -> String {
        signer.codec.sign(
            &json!({
                "_auth_user_id": "7",
                "_auth_user_backend": backend,
                "_auth_user_hash": "h",
            }),
            1_700_000_000,
        )
    }

    const MODEL: &str = "django.contrib.auth.backends.ModelBackend";
    const ALLAUTH: &str = "allauth.account.auth_backends.AuthenticationBackend";

    /// Django's `get_user`: a backend outside `AUTHENTICATION_BACKENDS` is not logged in.
    #[test]
    fn a_session_of_an_unlisted_backend_is_not_logged_in() {
        let ours = sessions(&[MODEL]);
        assert!(ours.login(&data(&ours, MODEL)).is_some());
        assert!(ours.login(&data(&ours, ALLAUTH)).is_none());
        let both = sessions(&[MODEL, ALLAUTH]);
        assert!(both.login(&data(&ours, ALLAUTH)).is_some());
    }
}
