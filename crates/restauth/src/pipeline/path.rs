//! [`Path`]: axum's path extractor with Django's answer to a URL that does not match its
//! converter, `404 {"detail":"Not found."}` (`/notes/abc` for `/notes/<int:pk>`), where axum
//! answers a plain-text 400.

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::core::error::Error;

/// The path parameters as `T` (`Path(id): Path<u64>`, `Path((a, b)): Path<(String, u32)>`),
/// or DRF's 404 when they do not read as `T`.
#[derive(Clone, Copy, Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            // A route without the parameters is the app's bug, not the client's URL.
            Err(axum::extract::rejection::PathRejection::MissingPathParams(e)) => {
                Err(Error::Internal(format!("path parameters: {e}")))
            }
            Err(_) => Err(Error::NotFound),
        }
    }
}
