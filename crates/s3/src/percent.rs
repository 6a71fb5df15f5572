//! Percent-encoding as S3 uses it: keys in listings with `encoding-type=url`, and the
//! `x-amz-tagging` header, which is an `application/x-www-form-urlencoded` query string.

/// Encodes a key (or prefix, delimiter, marker) for a listing with `encoding-type=url`.
///
/// Every byte but the RFC 3986 unreserved characters and `/` is percent-encoded, so the
/// result decodes to the key with both `unquote` and `unquote_plus` (botocore uses the latter,
/// so a literal `+` must never be left bare).
pub(crate) fn encode_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a form-encoded string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("a '%' is not followed by two hex digits")]
    BadEscape,
    #[error("the decoded bytes are not UTF-8")]
    NotUtf8,
}

/// Decodes one component of a form-encoded string: `+` is a space, `%XX` a byte.
pub(crate) fn decode_form_component(s: &str) -> Result<String, DecodeError> {
    decode(s, true)
}

/// Decodes a URI path: `%XX` is a byte, and `+` is itself.
pub(crate) fn decode_path(s: &str) -> Result<String, DecodeError> {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(DecodeError::BadEscape)?;
                let hex = std::str::from_utf8(hex).map_err(|_| DecodeError::BadEscape)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| DecodeError::BadEscape)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

/// Parses `k1=v1&k2=v2` into decoded pairs, in order. An empty string is no pairs; a
/// component without `=` is a key with an empty value.
pub(crate) fn parse_form(s: &str) -> Result<Vec<(String, String)>, DecodeError> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode_form_component(k)?, decode_form_component(v)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_key_cases() {
        let cases = [
            ("plain/key.txt", "plain/key.txt"),
            ("a b", "a%20b"),
            ("a+b", "a%2Bb"),
            ("100%", "100%25"),
            ("ünï", "%C3%BCn%C3%AF"),
            ("tab\there", "tab%09here"),
            ("~_-.", "~_-."),
            ("q?x=1&y", "q%3Fx%3D1%26y"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(encode_key(input), want, "{input:?}");
        }
    }

    #[test]
    fn decode_form_component_cases() {
        let cases: [(&str, Result<&str, DecodeError>); 7] = [
            ("a+b", Ok("a b")),
            ("a%2Bb", Ok("a+b")),
            ("%C3%BC", Ok("ü")),
            ("%zz", Err(DecodeError::BadEscape)),
            ("%4", Err(DecodeError::BadEscape)),
            ("%FF", Err(DecodeError::NotUtf8)),
            ("", Ok("")),
        ];
        for (input, want) in cases {
            assert_eq!(decode_form_component(input), want.map(str::to_owned), "{input:?}");
        }
    }

    #[test]
    fn decode_path_keeps_plus() {
        assert_eq!(decode_path("/b/a+b%2Bc%20d").unwrap(), "/b/a+b+c d");
        assert_eq!(decode_path("%zz"), Err(DecodeError::BadEscape));
    }

    #[test]
    fn parse_form_cases() {
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(parse_form("").unwrap(), pairs(&[]));
        assert_eq!(parse_form("a=1&b=2").unwrap(), pairs(&[("a", "1"), ("b", "2")]));
        assert_eq!(parse_form("k").unwrap(), pairs(&[("k", "")]));
        assert_eq!(parse_form("k=&x=y%3Dz").unwrap(), pairs(&[("k", ""), ("x", "y=z")]));
        assert_eq!(parse_form("a=1&&b=2").unwrap(), pairs(&[("a", "1"), ("b", "2")]));
    }
}
