//! The request context: the condition keys (and policy variables) of one request.
//!
//! Key names are case-insensitive, as in IAM (`aws:SourceIp` = `aws:sourceip`); values are kept as
//! strings, and a key may hold several values (`aws:TagKeys`), which is what `ForAnyValue:` and
//! `ForAllValues:` quantify over. A key that is absent and a key present with no values both count
//! as "absent" for `Null` and `...IfExists`.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    values: BTreeMap<String, Vec<String>>,
}

impl RequestContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key, replacing any previous value.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    /// Sets a multivalued key.
    pub fn insert_multi<I, S>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.values
            .insert(key.to_ascii_lowercase(), values.into_iter().map(Into::into).collect());
    }

    pub fn remove(&mut self, key: &str) {
        self.values.remove(&key.to_ascii_lowercase());
    }

    /// The values of `key`; `None` when absent.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }

    /// Copies every key of `other` in, replacing keys of the same name.
    pub fn extend(&mut self, other: &RequestContext) {
        for (k, v) in &other.values {
            self.values.insert(k.clone(), v.clone());
        }
    }

    /// All keys (lower-cased) and values, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}
