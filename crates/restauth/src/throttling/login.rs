//! Brute-force protection of every password check (token, JWT and session login, Basic):
//! failures are counted per username (`login_user`, 10/min) and per client address
//! (`login_ip`, 30/min), and a locked key is refused with 429 *before* any hash is computed.
//!
//! Only failures count, so a user logging in from many devices is never locked out by their
//! own successes; locking one username leaves other accounts and addresses free.

use std::sync::Arc;

use super::{Decision, Rate, combine_waits, unix_now};
use crate::context::Restauth;
use crate::error::Error;
use crate::user::{USERNAME_MAX_LENGTH, User};

impl Restauth {
    fn login_keys(&self, username: &str, client: &str) -> Vec<(String, Rate)> {
        // The key carries at most a username's length, whatever the client sent.
        let name: String = username.chars().take(USERNAME_MAX_LENGTH).collect();
        [("login_user", name), ("login_ip", client.to_owned())]
            .into_iter()
            .filter_map(|(scope, who)| {
                self.throttle_rate(scope)
                    .map(|rate| (format!("throttle_{scope}_{who}"), rate))
            })
            .collect()
    }

    /// [`Restauth::authenticate_credentials`] behind the login throttles.
    pub async fn authenticate_login(
        &self,
        username: &str,
        password: &str,
        client: &str,
    ) -> Result<Option<Arc<User>>, Error> {
        let keys = self.login_keys(username, client);
        let store = self.throttle_store();
        let now = unix_now();
        let mut waits = Vec::new();
        for (key, rate) in &keys {
            match store.peek(key, *rate, now).await {
                Ok(Decision::Allow) => {}
                Ok(Decision::Deny { wait }) => waits.push(wait),
                Err(e) => {
                    tracing::warn!(error = %e, "throttle store unavailable");
                    return Err(Error::Unavailable);
                }
            }
        }
        if !waits.is_empty() {
            tracing::info!(client, "login throttled");
            return Err(Error::Throttled {
                wait: combine_waits(waits),
            });
        }
        let user = self.authenticate_credentials(username, password).await?;
        if user.is_none() {
            for (key, rate) in &keys {
                if let Err(e) = store.hit(key, *rate, now).await {
                    tracing::warn!(error = %e, "could not count a failed login");
                }
            }
        }
        Ok(user)
    }
}
