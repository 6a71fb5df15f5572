//! RFC 6902 JSON Patch, as much of it as the webhook writes: `add` operations whose paths are
//! RFC 6901 JSON Pointers built from tokens, each token escaped (`~` → `~0`, `/` → `~1`).
//!
//! A pointer is never written by string concatenation elsewhere in the crate: an annotation key
//! such as `keyless.io/injected-role-arn` is one token, and only [`Pointer::push`] may turn it into
//! path text.

use std::fmt;

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

/// An RFC 6901 JSON Pointer, built token by token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pointer(String);

impl Pointer {
    /// The pointer to the whole document (`""`).
    pub fn root() -> Pointer {
        Pointer(String::new())
    }

    /// This pointer with one more reference token appended, escaped per RFC 6901.
    pub fn push(mut self, token: impl AsRef<str>) -> Pointer {
        self.0.push('/');
        for c in token.as_ref().chars() {
            match c {
                '~' => self.0.push_str("~0"),
                '/' => self.0.push_str("~1"),
                c => self.0.push(c),
            }
        }
        self
    }

    /// This pointer with an array index appended.
    pub fn index(self, i: usize) -> Pointer {
        self.push(i.to_string())
    }

    /// This pointer with `-` appended: "after the last element" of an array (RFC 6902 `add`).
    pub fn end(self) -> Pointer {
        self.push("-")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One JSON Patch operation. The webhook only ever adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    op: &'static str,
    path: String,
    value: Value,
}

impl PatchOp {
    /// `add`: creates the member (or replaces it, for an object member that exists), or inserts
    /// into an array (`/-` appends).
    pub fn add(path: Pointer, value: Value) -> PatchOp {
        PatchOp {
            op: "add",
            path: path.0,
            value,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn value(&self) -> &Value {
        &self.value
    }
}

/// A JSON Patch document: operations applied in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct JsonPatch(Vec<PatchOp>);

impl JsonPatch {
    pub fn new() -> JsonPatch {
        JsonPatch(Vec::new())
    }

    pub fn push(&mut self, op: PatchOp) {
        self.0.push(op);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn ops(&self) -> &[PatchOp] {
        &self.0
    }

    /// The patch as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a patch of strings and JSON values always serializes")
    }

    /// The patch as the AdmissionResponse carries it: standard base64 of the JSON text.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(tokens: &[&str], expected: &str) {
        let pointer = tokens.iter().fold(Pointer::root(), |p, t| p.push(t));
        assert_eq!(pointer.as_str(), expected, "tokens {tokens:?}");
    }

    #[test]
    fn pointers_escape_tilde_and_slash() {
        check(&[], "");
        check(&["spec", "containers"], "/spec/containers");
        check(
            &["metadata", "annotations", "keyless.io/role-arn"],
            "/metadata/annotations/keyless.io~1role-arn",
        );
        check(&["a~b"], "/a~0b");
        // `~1` in the input is a tilde then a one, not an escaped slash: it must not decode to `/`.
        check(&["~1"], "/~01");
        check(&["/~/"], "/~1~0~1");
        check(&[""], "/");
        check(&["-"], "/-");
    }

    #[test]
    fn patch_serializes_as_rfc6902_and_base64() {
        let mut patch = JsonPatch::new();
        patch.push(PatchOp::add(
            Pointer::root().push("spec").push("volumes").end(),
            json!({"name": "v"}),
        ));
        assert_eq!(
            patch.to_json(),
            r#"[{"op":"add","path":"/spec/volumes/-","value":{"name":"v"}}]"#
        );
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(patch.to_base64())
            .unwrap();
        assert_eq!(decoded, patch.to_json().as_bytes());
        assert_eq!(JsonPatch::new().to_json(), "[]");
    }
}
