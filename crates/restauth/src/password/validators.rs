#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordValidation {
    pub min_length: usize,
    pub numeric: bool,
    pub common: bool,
    pub max_similarity: Option<f64>,
}
impl Default for PasswordValidation {
    fn default() -> Self {
        PasswordValidation {
            min_length: 8,
            numeric: true,
            common: true,
            max_similarity: Some(0.7),
        }
    }
}
pub struct UserAttributes<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}
pub fn validate_password(
    password: &str,
    _user: &UserAttributes<'_>,
    cfg: &PasswordValidation,
) -> Result<(), Vec<String>> {
    if password.chars().count() < cfg.min_length {
        return Err(vec![format!(
            "This password is too short. It must contain at least {} characters.",
            cfg.min_length
        )]);
    }
    Ok(())
}
