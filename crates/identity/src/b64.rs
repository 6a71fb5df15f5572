//! The base64 flavours the wire formats use, named once.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// base64url without padding, as JOSE (JWT, JWK) requires. Padding or the standard alphabet is
/// refused: a token is either canonical or malformed.
pub(crate) fn url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

pub(crate) fn url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn std_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}
