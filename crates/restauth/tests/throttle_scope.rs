//! A route's `throttle_scope` must have a rate when the route is built, as DRF raises
//! `ImproperlyConfigured`: a misspelt scope would otherwise leave the route unthrottled.

mod common;

use restauth::Restauth;
use restauth::pipeline::throttling::RateSetting;

async fn restauth(dir: &tempfile::TempDir, rates: &[(&str, &str)]) -> Restauth {
    let mut settings = common::settings(dir);
    for (scope, rate) in rates {
        settings
            .rest_framework
            .default_throttle_rates
            .insert((*scope).into(), rate.parse::<RateSetting>().unwrap());
    }
    Restauth::open(settings).await.expect("open")
}

#[tokio::test]
async fn a_scope_without_a_rate_is_refused_when_the_route_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let restauth = restauth(&dir, &[("uploads", "10/min"), ("exports", "off")]).await;
    for scope in ["uploads", "exports", "login_ip"] {
        assert!(restauth.policy().throttle_scope(scope).is_ok(), "{scope}");
    }
    let error = restauth
        .policy()
        .throttle_scope("upload")
        .err()
        .expect("no rate for the scope")
        .to_string();
    assert!(error.contains("\"upload\""), "{error}");
    assert!(error.contains("default_throttle_rates"), "{error}");
}
