//! Properties of the checks that face the network, over generated inputs: a `next=` URL the
//! login view accepts never takes a browser off the site, a masked CSRF token always unmasks to
//! its secret, and an API key's digest lookup never finds another key's token.

use std::sync::OnceLock;

use http::Method;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use restauth::core::settings::{DatabaseSettings, Secret};
use restauth::session::csrf::{self, CsrfRequest};
use restauth::session::safe_url::is_safe_redirect;
use restauth::token::{KEY_LENGTH, TokenRejection};
use restauth::{NewAccount, Restauth, Settings};
use url::Url;

const HOST: &str = "testserver";

/// `cases` cases from a fixed seed, so that a run is reproducible; `PROPTEST_CASES` and
/// `PROPTEST_RNG_SEED` override both for a longer or different search. Failures are reported,
/// not written next to the sources.
fn config(cases: u32) -> ProptestConfig {
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            defaults.cases
        } else {
            cases
        },
        rng_seed: match defaults.rng_seed {
            RngSeed::Random => RngSeed::Fixed(0x5eed),
            fixed => fixed,
        },
        failure_persistence: None,
        ..defaults
    }
}

/// Pieces that URL parsers disagree on: separators and their look-alikes, controls browsers
/// strip, encodings, schemes, hosts, ports and user info.
fn url_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "/",
            "//",
            "\\",
            "\\\\",
            "/\\",
            "\t",
            "\n",
            "\r",
            " ",
            "\u{0}",
            "\u{1}",
            "\u{1f}",
            "\u{7f}",
            "\u{85}",
            "\u{a0}",
            "\u{3000}",
            "\u{ff0f}",
            "\u{2215}",
            ":",
            "@",
            "?",
            "#",
            ".",
            "..",
            "%2f",
            "%5c",
            "%2F",
            "%09",
            "%0a",
            "%00",
            "%40",
            "http:",
            "https:",
            "HTTPS:",
            "javascript:",
            "data:",
            "ftp:",
            "http://",
            "https://",
            "testserver",
            "TESTSERVER",
            "testserver.",
            "evil.example",
            "[::1]",
            "[",
            "]",
            ":443",
            ":80",
            ":8443",
            "user@",
            "user:pw@",
            "xn--",
            "0x7f.1",
            "127.0.0.1",
            "\u{3002}",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9]{1,4}",
    ]
}

fn tricky_url() -> impl Strategy<Value = String> {
    prop::collection::vec(url_piece(), 0..10).prop_map(|pieces| pieces.concat())
}

/// Where a browser on `page` goes for `Location: next`, read with the WHATWG URL parser (tabs
/// and newlines dropped, `\` as `/`, a leading `//` scheme-relative); `None`: not followed.
fn browser_target(page: &str, next: &str) -> Option<Url> {
    Url::parse(page).ok()?.join(&skip_extra_slashes(next)).ok()
}

/// The `url` crate refuses `///host` as an empty host, where the URL Standard (and browsers)
/// skip every slash or backslash after the scheme and go on to `host`; this makes it do so.
fn skip_extra_slashes(next: &str) -> String {
    let cleaned: String = next
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let scheme_len = cleaned
        .split_once(':')
        .filter(|(scheme, _)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .map_or(0, |(scheme, _)| scheme.len() + 1);
    let (scheme, rest) = cleaned.split_at(scheme_len);
    let is_special =
        scheme.is_empty() || matches!(scheme.to_ascii_lowercase().as_str(), "http:" | "https:");
    let slashes = rest.chars().take_while(|c| matches!(c, '/' | '\\')).count();
    if is_special && slashes > 2 {
        format!("{scheme}//{}", &rest[slashes..])
    } else {
        cleaned
    }
}

fn assert_on_site(next: &str, require_https: bool) {
    for page in [
        "https://testserver/accounts/login/",
        "http://testserver/login/",
    ] {
        let Some(target) = browser_target(page, next) else {
            continue;
        };
        assert_eq!(
            target.host_str(),
            Some(HOST),
            "{next:?} from {page} leaves the site"
        );
        assert_eq!(target.port(), None, "{next:?} from {page} changes the port");
        assert!(
            matches!(target.scheme(), "http" | "https"),
            "{next:?} from {page} goes to {target}"
        );
        assert!(
            target.username().is_empty() && target.password().is_none(),
            "{next:?} from {page} carries credentials"
        );
        if require_https && page.starts_with("https:") {
            assert_eq!(target.scheme(), "https", "{next:?} downgrades to http");
        }
    }
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn next_never_resolves_off_site(next in tricky_url(), require_https in any::<bool>()) {
        if is_safe_redirect(&next, HOST, require_https) {
            assert_on_site(&next, require_https);
        }
    }

    #[test]
    fn next_never_resolves_off_site_any_text(next in any::<String>()) {
        for require_https in [false, true] {
            if is_safe_redirect(&next, HOST, require_https) {
                assert_on_site(&next, require_https);
            }
        }
    }
}

#[test]
fn the_url_generator_reaches_both_answers() {
    // Guards the property above against a generator that only ever produces refused URLs.
    assert!(is_safe_redirect("/dashboard/", HOST, false));
    assert!(is_safe_redirect("https://testserver/x", HOST, true));
    assert!(!is_safe_redirect("//evil.example", HOST, false));
    assert_eq!(
        browser_target("https://testserver/", "/\t/evil.example")
            .and_then(|u| u.host_str().map(str::to_owned)),
        Some("evil.example".to_owned()),
        "the browser model must read a tab inside `//` as Chrome and Firefox do"
    );
    assert_eq!(
        browser_target("https://testserver/", "/\\evil.example")
            .and_then(|u| u.host_str().map(str::to_owned)),
        Some("evil.example".to_owned()),
        "the browser model must read `\\` as `/`"
    );
}

#[test]
fn tabs_and_line_breaks_cannot_hide_a_third_slash() {
    // Found by the property above: the three-slash rule saw the URL before the tab was
    // dropped, while a browser drops it first and then reads `///evil.example`.
    for next in [
        "/\t//evil.example",
        "/\n//evil.example/x",
        "//\r/evil.example",
        "\\\t\\\\0x7f.1",
        "/\t\\/evil.example",
    ] {
        for require_https in [false, true] {
            assert!(
                !is_safe_redirect(next, HOST, require_https),
                "{next:?} should be unsafe"
            );
        }
        let target = browser_target("https://testserver/", next)
            .unwrap_or_else(|| panic!("a browser follows {next:?}"));
        assert_ne!(
            target.host_str(),
            Some(HOST),
            "{next:?} is an off-site example"
        );
    }
}

fn secret() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]{32}"
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn masked_csrf_token_unmasks_to_its_secret(secret in secret()) {
        let masked = csrf::mask_secret(&secret);
        prop_assert_eq!(masked.len(), csrf::CSRF_TOKEN_LENGTH);
        prop_assert!(masked.bytes().all(|b| b.is_ascii_alphanumeric()));
        prop_assert_eq!(csrf::unmask_token(&masked), secret.clone());
        // A masked cookie reads back as its secret too, and the full check accepts the pair.
        prop_assert_eq!(csrf::secret_from_cookie(&masked).ok(), Some(secret.clone()));
        let other_mask = csrf::mask_secret(&secret);
        for (cookie, token) in [(&secret, &masked), (&masked, &other_mask)] {
            let req = CsrfRequest {
                method: &Method::POST,
                is_secure: false,
                host: HOST,
                origin: None,
                referer: None,
                cookie: Some(cookie),
                form_token: None,
                header_token: Some(token),
                trusted_origins: &[],
                cookie_domain: None,
            };
            prop_assert_eq!(csrf::check(&req), Ok(()));
        }
    }

    #[test]
    fn masked_token_never_unmasks_to_another_secret(a in secret(), b in secret()) {
        prop_assume!(a != b);
        prop_assert_ne!(csrf::unmask_token(&csrf::mask_secret(&a)), b);
    }
}

/// One store with one user holding one token, shared by every case: the key and the context.
struct Keyring {
    runtime: tokio::runtime::Runtime,
    restauth: Restauth,
    key: String,
    _dir: tempfile::TempDir,
}

fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings {
            secret_key: Some(Secret("properties-secret-key-0123456789abcdef".into())),
            database: DatabaseSettings {
                url: format!("sqlite://{}", dir.path().join("keys.db").display()),
                ..DatabaseSettings::default()
            },
            ..Settings::default()
        };
        let (restauth, key) = runtime.block_on(async {
            let restauth = Restauth::open(settings).await.expect("open");
            let user = restauth
                .users()
                .create_user(NewAccount::new("alice"))
                .await
                .expect("user");
            let issued = restauth.tokens().issue_token(user.id).await.expect("token");
            (restauth, issued.key)
        });
        Keyring {
            runtime,
            restauth,
            key,
            _dir: dir,
        }
    })
}

/// Keys close to `key`: one character changed, case changed, cut, extended or padded.
fn near_miss(key: &str) -> impl Strategy<Value = String> + use<> {
    let key = key.to_owned();
    let len = key.len();
    (0..len, any::<char>(), 0..6u8).prop_map(move |(i, c, how)| {
        let mut chars: Vec<char> = key.chars().collect();
        match how {
            0 => chars[i] = c,
            1 => chars[i] = chars[i].to_ascii_uppercase(),
            2 => chars.truncate(i),
            3 => chars.insert(i, c),
            4 => return format!(" {key}"),
            _ => return format!("{key}\0"),
        }
        let other: String = chars.into_iter().collect();
        // Changing a digit's case or a character to itself is no change: step aside.
        if other == key {
            format!("{key}0")
        } else {
            other
        }
    })
}

fn lookup(key: &str) -> Result<(), TokenRejection> {
    let ring = keyring();
    ring.runtime
        .block_on(ring.restauth.tokens().authenticate_key(key))
        .expect("store answers")
        .map(|_| ())
}

#[test]
fn the_issued_key_itself_is_found() {
    let ring = keyring();
    assert_eq!(ring.key.len(), KEY_LENGTH);
    assert_eq!(lookup(&ring.key), Ok(()));
    // A second time it comes from the cache, which must agree.
    assert_eq!(lookup(&ring.key), Ok(()));
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn digest_lookup_never_matches_another_key(other in "[0-9a-f]{40}|[ -~]{0,60}") {
        let ring = keyring();
        prop_assume!(other != ring.key);
        prop_assert_eq!(lookup(&other), Err(TokenRejection::Invalid));
        prop_assert!(ring.restauth.tokens().authenticate_key_at_once(&other).is_none_or(|v| v.is_err()));
    }

    #[test]
    fn digest_lookup_never_matches_a_near_miss(other in near_miss(&keyring().key)) {
        let ring = keyring();
        prop_assert_ne!(&other, &ring.key);
        prop_assert_eq!(lookup(&other), Err(TokenRejection::Invalid));
        // The real key still works after every miss (a miss must not poison the cache).
        prop_assert_eq!(lookup(&ring.key), Ok(()));
    }
}
