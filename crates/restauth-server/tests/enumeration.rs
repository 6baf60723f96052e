//! No user enumeration: every login failure has the same body and, statistically, the same
//! latency (wrong password, unknown user, inactive user, unusable password) (security.md §4.4: ≥ 200 interleaved samples per class, Mann-Whitney U; a pair fails
//! only if p < 0.001 and the medians differ by more than 5 ms and 10 %).

mod common;

use std::time::Instant;

use common::{PASSWORD, Server};
use serde_json::json;

const SAMPLES: usize = 200;

/// Two-sided p-value of the Mann-Whitney U test, normal approximation with tie correction.
fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let mut all: Vec<(f64, usize)> = a
        .iter()
        .map(|&v| (v, 0))
        .chain(b.iter().map(|&v| (v, 1)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for r in ranks.iter_mut().take(j + 1).skip(i) {
            *r = rank;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let r1: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|((_, g), _)| *g == 0)
        .map(|(_, r)| r)
        .sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let var = n1 * n2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (u1 - mean).abs() / var.sqrt();
    // Two-sided p from the normal tail (Abramowitz-Stegun 7.1.26 for erfc).
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    poly * (-x * x).exp()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

#[test]
fn mann_whitney_sanity() {
    let a: Vec<f64> = (0..200).map(|i| i as f64).collect();
    let b: Vec<f64> = (0..200).map(|i| i as f64 + 0.5).collect();
    assert!(mann_whitney_p(&a, &b) > 0.5);
    let c: Vec<f64> = (0..200).map(|i| i as f64 + 150.0).collect();
    assert!(mann_whitney_p(&a, &c) < 0.001);
}

#[tokio::test]
async fn login_failures_are_indistinguishable() {
    // Login throttles would turn the samples into 429s; this test is about hashing cost.
    let s = Server::builder()
        .config(
            "[rest_framework.default_throttle_rates]\nlogin_user_ip = \"off\"\nlogin_user = \"off\"\nlogin_ip = \"off\"\n",
        )
        .start()
        .await;
    s.create_user("alice", &[]);
    s.create_user("sleepy", &["--inactive"]);
    // An unusable password.
    let out = s.command(&["createuser", "locked", "--no-password"], "");
    assert!(out.status.success());
    let classes = [
        (
            "wrong password",
            json!({"username": "alice", "password": "not the password"}),
        ),
        (
            "unknown user",
            json!({"username": "nobody-here", "password": PASSWORD}),
        ),
        (
            "inactive user",
            json!({"username": "sleepy", "password": PASSWORD}),
        ),
    ];
    // Warm-up.
    for (_, body) in &classes {
        s.post_json("/api-token-auth/", body, None).await;
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); classes.len()];
    let mut bodies: Vec<String> = Vec::new();
    for _ in 0..SAMPLES {
        for (i, (_, body)) in classes.iter().enumerate() {
            let start = Instant::now();
            let r = s.post_json("/api-token-auth/", body, None).await;
            samples[i].push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(r.status, 400);
            bodies.push(r.body);
        }
    }
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "failure bodies differ: {bodies:?}");
    for i in 0..classes.len() {
        for j in i + 1..classes.len() {
            let (a, b) = (&samples[i], &samples[j]);
            let p = mann_whitney_p(a, b);
            let (ma, mb) = (median(a), median(b));
            let diff = (ma - mb).abs();
            let distinguishable = p < 0.001 && diff > 5.0 && diff > 0.1 * ma.max(mb);
            assert!(
                !distinguishable,
                "{} vs {}: medians {ma:.2} ms / {mb:.2} ms, p = {p:.2e}",
                classes[i].0, classes[j].0
            );
        }
    }
}
