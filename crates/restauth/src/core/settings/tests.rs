use super::*;

#[test]
fn keys_are_the_fields_serde_reads() {
    let keys = Settings::keys();
    for key in [
        "secret_key",
        "database",
        "rest_framework",
        "simple_jwt",
        "email",
    ] {
        assert!(keys.contains(&key), "{key}: {keys:?}");
    }
    // The server's own sections are not the library's.
    for key in ["server", "log", "openapi", "metrics"] {
        assert!(!keys.contains(&key), "{key}");
    }
}
use figment::Figment;
use figment::providers::{Format, Toml};

fn describe(e: figment::Error) -> String {
    e.to_string()
}

#[test]
fn durations() {
    assert_eq!(Seconds::parse("5m"), Some(Seconds(300)));
    assert_eq!(Seconds::parse("1d"), Some(Seconds(86_400)));
    assert_eq!(Seconds::parse("42"), Some(Seconds(42)));
    assert_eq!(Seconds::parse("5 h"), Some(Seconds(18_000)));
    assert_eq!(Seconds::parse("5y"), None);
    assert_eq!(Seconds::parse("m"), None);
    assert_eq!(Seconds::parse("99999999999999999999d"), None);
}

#[test]
fn toml_with_drf_names() {
    let s: Settings = Figment::new()
        .merge(Toml::string(
            r#"
            [rest_framework]
            default_authentication_classes = ["token", "session"]
            default_permission_classes = ["IsAuthenticated"]
            [token]
            ttl = "1d"
            "#,
        ))
        .extract()
        .unwrap();
    assert_eq!(
        s.rest_framework.default_authentication_classes,
        vec![AuthClass::Token, AuthClass::Session]
    );
    assert_eq!(
        s.rest_framework.default_permission_classes,
        vec![PermissionClass::IsAuthenticated]
    );
    assert_eq!(s.token.ttl, Some(Seconds(86_400)));
}

#[test]
fn unknown_keys_name_the_key() {
    let err = Figment::new()
        .merge(Toml::string("[rest_framework]\ndefault_auth = 1\n"))
        .extract::<Settings>()
        .unwrap_err();
    let text = describe(err);
    assert!(text.contains("rest_framework"), "{text}");
    assert!(text.contains("default_auth"), "{text}");
}

fn refusal(s: &Settings) -> String {
    s.validate().expect_err("should be refused").0
}

#[test]
fn argon2_below_the_owasp_floor_is_refused() {
    for (memory_kib, iterations) in [
        (8, 1),
        (19_455, 2),
        (19_456, 1),
        (47_103, 1),
        (12_287, 3),
        (9_215, 4),
        (7_167, 5),
        (7_167, 100),
    ] {
        let mut s = Settings::default();
        s.password.argon2.memory_kib = memory_kib;
        s.password.argon2.iterations = iterations;
        let text = refusal(&s);
        assert!(text.contains("password.argon2"), "{text}");
    }
    for (memory_kib, iterations) in [
        (19_456, 2),
        (47_104, 1),
        (12_288, 3),
        (9_216, 4),
        (7_168, 5),
        (7_168, 9),
        (65_536, 3),
    ] {
        let mut s = Settings::default();
        s.password.argon2.memory_kib = memory_kib;
        s.password.argon2.iterations = iterations;
        assert!(s.validate().is_ok(), "{memory_kib}/{iterations}");
    }
}

#[test]
fn zero_timeouts_are_refused_by_name() {
    let mut s = Settings::default();
    s.database.acquire_timeout = Seconds(0);
    assert!(refusal(&s).contains("database.acquire_timeout"));
    let mut s = Settings::default();
    s.password.hashing_queue_timeout = Seconds(0);
    assert!(refusal(&s).contains("password.hashing_queue_timeout"));
    // Zero statement_timeout means "no limit".
    let mut s = Settings::default();
    s.database.statement_timeout = Seconds(0);
    assert!(s.validate().is_ok());
}

#[test]
fn negative_timeouts_do_not_parse_and_name_the_key() {
    for toml in [
        "[database]\nacquire_timeout = \"-5s\"\n",
        "[password]\nhashing_queue_timeout = -1\n",
    ] {
        let err = Figment::new()
            .merge(Toml::string(toml))
            .extract::<Settings>()
            .unwrap_err();
        let text = describe(err);
        let key = toml.split_once('\n').unwrap().1.split_once(' ').unwrap().0;
        assert!(text.contains(key), "{toml}: {text}");
    }
}

#[test]
fn known_weak_hmac_keys_are_refused_without_showing_them() {
    let weak = "a-string-secret-at-least-256-bits-long";
    let s = Settings {
        secret_key: Some(Secret(weak.into())),
        ..Settings::default()
    };
    let text = refusal(&s);
    assert!(text.starts_with("secret_key:"), "{text}");
    assert!(!text.contains(weak), "{text}");
    let s = Settings {
        secret_key: Some(Secret(
            "django-insecure-)x9!k2#v@8q$w7e%r6t^y5u&i4o*p3a(s2d)f1g".into(),
        )),
        ..Settings::default()
    };
    assert!(refusal(&s).contains("django-insecure-"));
    let mut s = Settings::default();
    s.simple_jwt.signing_key = Some("CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET".into());
    assert!(refusal(&s).starts_with("simple_jwt.signing_key:"));
    // An asymmetric signing key is a file path, not a secret.
    s.simple_jwt.algorithm = jwt::JwtAlgorithm::RS256;
    assert!(s.validate().is_ok());
    let s = Settings {
        secret_key: Some(Secret("8c1f0e6a3b9d4f2a7e5c1b8d0f3a6e9c".into())),
        ..Settings::default()
    };
    assert!(s.validate().is_ok());
}

#[test]
fn secrets_are_redacted_in_debug() {
    let s = Settings {
        secret_key: Some(Secret("hunter2-hunter2".into())),
        ..Settings::default()
    };
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn page_urls_must_be_distinct_paths_of_this_server() {
    let mut s = Settings::default();
    s.session.login_url = "/accounts/login/".into();
    s.session.logout_url = "/accounts/logout".into();
    assert!(s.validate().is_ok());
    for (login, logout, key) in [
        ("accounts/login/", "/out/", "session.login_url"),
        ("//evil.example/login/", "/out/", "session.login_url"),
        ("/login/?next=/", "/out/", "session.login_url"),
        ("/login/{id}", "/out/", "session.login_url"),
        ("/login/", "https://example.com/out/", "session.logout_url"),
        ("/login/", "/login", "session.logout_url"),
    ] {
        s.session.login_url = login.into();
        s.session.logout_url = logout.into();
        assert!(
            refusal(&s).starts_with(key),
            "{login} {logout}: {}",
            refusal(&s)
        );
    }
    assert_eq!(route_path("/api-auth/login/"), "/api-auth/login");
    assert_eq!(route_path("/"), "/");
}

#[test]
fn a_misspelt_login_scope_is_refused_by_name() {
    let mut s = Settings::default();
    for scope in ["login_user_ip", "login_user", "login_ip", "echo", "loginx"] {
        s.rest_framework
            .default_throttle_rates
            .insert(scope.into(), RateSetting(None));
    }
    assert!(s.validate().is_ok());
    s.rest_framework
        .default_throttle_rates
        .insert("login_users".into(), RateSetting(None));
    let text = refusal(&s);
    assert!(
        text.starts_with("rest_framework.default_throttle_rates.login_users:"),
        "{text}"
    );
}

#[test]
fn unknown_jwt_algorithm_or_user_id_field_names_the_key() {
    for (toml, key) in [
        (
            "[simple_jwt]\nalgorithm = \"none\"\n",
            "simple_jwt.algorithm",
        ),
        (
            "[simple_jwt]\nuser_id_field = \"email\"\n",
            "simple_jwt.user_id_field",
        ),
    ] {
        let err = Figment::new()
            .merge(Toml::string(toml))
            .extract::<Settings>()
            .unwrap_err();
        let text = describe(err);
        assert!(text.contains(key), "{text}");
    }
}

#[test]
fn a_rate_with_an_unknown_period_is_refused_naming_the_key() {
    let toml = "[rest_framework.default_throttle_rates]\nanon = \"2/month\"\n";
    let err = Figment::new()
        .merge(Toml::string(toml))
        .extract::<Settings>()
        .unwrap_err();
    let text = describe(err);
    assert!(
        text.contains("rest_framework.default_throttle_rates.anon"),
        "{text}"
    );
    assert!(text.contains("\"2/month\""), "{text}");
    let ok = "[rest_framework.default_throttle_rates]\nanon = \"2/hours\"\n";
    let s: Settings = Figment::new().merge(Toml::string(ok)).extract().unwrap();
    assert_eq!(
        s.rest_framework.default_throttle_rates["anon"],
        "2/h".parse().unwrap()
    );
}

#[test]
fn tokens_per_user_are_capped_by_default() {
    assert_eq!(Settings::default().token.limit_per_user, Some(50));
    let s: Settings = Figment::new()
        .merge(Toml::string("[token]\nlimit_per_user = 3\n"))
        .extract()
        .unwrap();
    assert_eq!(s.token.limit_per_user, Some(3));
}

#[test]
fn the_old_django_keys_move_to_the_django_section() {
    let mut s: Settings = Figment::new()
        .merge(Toml::string(
            r#"
            [database]
            schema_flavor = "django"
            django_user_table = "accounts_user"
            django_username_field = "email"
            django_auth_backend = "allauth.account.auth_backends.AuthenticationBackend"
            [django]
            reread_after = 5
            user_defaults = { name = "" }
            "#,
        ))
        .extract()
        .map_err(describe)
        .unwrap();
    let warnings = s.upgrade();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[0].contains("database.django_user_table") && warnings[0].contains("user_table")
    );
    assert_eq!(s.django.user_table, "accounts_user");
    assert_eq!(s.django.username_field, "email");
    assert_eq!(s.django.reread_after, Seconds(5));
    assert_eq!(
        s.django.session_backend(),
        "allauth.account.auth_backends.AuthenticationBackend"
    );
    assert!(s.upgrade().is_empty(), "moved once");
    assert!(s.validate().is_ok());
    // A value that is not a scalar, or a name SQL would need quoting for, is refused.
    s.django
        .user_defaults
        .insert("tags".into(), serde_json::json!([1]));
    assert!(
        s.validate()
            .unwrap_err()
            .0
            .starts_with("django.user_defaults.tags")
    );
    s.django.user_defaults.clear();
    s.django.user_extra_columns = vec!["Name".into()];
    assert!(
        s.validate()
            .unwrap_err()
            .0
            .starts_with("django.user_extra_columns")
    );
}
