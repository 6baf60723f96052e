//! TEMPORARY stand-in until the Django-compatible CSRF module lands.
pub const CSRF_SECRET_LENGTH: usize = 32;
pub const CSRF_TOKEN_LENGTH: usize = 64;
pub fn new_secret() -> String {
    "a".repeat(32)
}
pub fn mask_secret(secret: &str) -> String {
    format!("{secret}{secret}")
}
pub fn unmask_token(token: &str) -> String {
    token[..32].to_owned()
}
pub fn secret_from_cookie(value: &str) -> Result<String, CsrfFailure> {
    Ok(value.to_owned())
}
pub struct CsrfRequest<'a> {
    pub method: &'a http::Method,
    pub is_secure: bool,
    pub host: &'a str,
    pub origin: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub cookie: Option<&'a str>,
    pub form_token: Option<&'a str>,
    pub header_token: Option<&'a str>,
    pub trusted_origins: &'a [String],
    pub cookie_domain: Option<&'a str>,
}
pub fn check(_req: &CsrfRequest<'_>) -> Result<(), CsrfFailure> {
    Ok(())
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfFailure(String);
impl CsrfFailure {
    pub fn reason(&self) -> &str {
        &self.0
    }
    pub fn cookie_needs_reset(&self) -> bool {
        false
    }
}
