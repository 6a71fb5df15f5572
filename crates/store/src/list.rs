//! Listing over the ordered indexes: objects over `(bucket, key)`, with prefix, delimiter and
//! start-after; multipart uploads over `(bucket, key, upload id)`, with prefix, delimiter and the
//! key / upload-id markers.
//!
//! A page costs the page: the scan starts at the first candidate entry, and when a delimiter
//! groups keys into a common prefix the scan seeks past the whole group instead of walking it.

use std::ops::Bound;

use redb::ReadableTable;

use crate::error::{StoreError, StoreResult};
use crate::record::{self, ObjectRecord, UploadRecord};
use crate::types::{ListPage, ListQuery, ListUploadsPage, ListUploadsQuery};

/// The smallest string greater than every string that starts with `p`, if any.
/// Used to seek past a common-prefix group.
fn after_prefix(p: &str) -> Option<String> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(c) = chars.pop() {
        // Next code point, skipping the surrogate gap.
        let next = match c as u32 {
            0xD7FF => Some('\u{E000}'),
            0x10FFFF => None,
            n => char::from_u32(n + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

pub(crate) fn list(
    t: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    bucket: &str,
    q: &ListQuery,
) -> StoreResult<ListPage> {
    let mut page = ListPage::default();
    let delim = q.delimiter.as_deref().filter(|d| !d.is_empty());
    // First key to consider: after start_after, and not before the prefix.
    let mut lower: Bound<String> = match &q.start_after {
        Some(sa) if sa.as_str() >= q.prefix.as_str() => Bound::Excluded(sa.clone()),
        _ => Bound::Included(q.prefix.clone()),
    };
    let mut count = 0usize;
    'scan: loop {
        let lo: Bound<(&str, &str)> = match &lower {
            Bound::Included(k) => Bound::Included((bucket, k.as_str())),
            Bound::Excluded(k) => Bound::Excluded((bucket, k.as_str())),
            Bound::Unbounded => Bound::Included((bucket, "")),
        };
        let range = t
            .range::<(&str, &str)>((lo, Bound::Unbounded))
            .map_err(StoreError::db)?;
        for e in range {
            let (k, v) = e.map_err(StoreError::db)?;
            let (b, key) = k.value();
            if b != bucket || !key.starts_with(q.prefix.as_str()) {
                break 'scan;
            }
            if let Some(cp) = common_prefix(key, &q.prefix, delim) {
                // A group already returned on an earlier page (start_after inside it).
                let seen = q
                    .start_after
                    .as_deref()
                    .is_some_and(|sa| sa.starts_with(cp) || page.common_prefixes.last().is_some_and(|l| l == cp));
                if !seen {
                    if count == q.max_keys {
                        page.is_truncated = true;
                        break 'scan;
                    }
                    page.common_prefixes.push(cp.to_owned());
                    page.next_marker = Some(cp.to_owned());
                    count += 1;
                }
                // Seek past every key in this group.
                match after_prefix(cp) {
                    Some(next) => {
                        lower = Bound::Included(next);
                        continue 'scan;
                    }
                    None => break 'scan,
                }
            }
            if count == q.max_keys {
                page.is_truncated = true;
                break 'scan;
            }
            let r: ObjectRecord = record::decode(v.value())?;
            page.next_marker = Some(key.to_owned());
            page.objects.push(crate::object_info(key, r));
            count += 1;
        }
        break;
    }
    if !page.is_truncated {
        page.next_marker = None;
    }
    Ok(page)
}

/// The common prefix `key` falls in: `key` up to and including the first `delim` after `prefix`.
fn common_prefix<'k>(key: &'k str, prefix: &str, delim: Option<&str>) -> Option<&'k str> {
    let d = delim?;
    let i = key.get(prefix.len()..)?.find(d)?;
    Some(&key[..prefix.len() + i + d.len()])
}

/// A page of in-progress uploads. `index` is `(bucket, key, upload id)`; each upload on the page
/// is then read from `uploads`, `(bucket, upload id) -> UploadRecord`.
pub(crate) fn list_uploads(
    index: &impl ReadableTable<(&'static str, &'static str, &'static str), ()>,
    uploads: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    bucket: &str,
    q: &ListUploadsQuery,
) -> StoreResult<ListUploadsPage> {
    let mut page = ListUploadsPage::default();
    let delim = q.delimiter.as_deref().filter(|d| !d.is_empty());
    let key_marker = q.key_marker.as_deref().filter(|m| !m.is_empty());
    let id_marker = q
        .upload_id_marker
        .as_deref()
        .filter(|m| !m.is_empty() && key_marker.is_some());
    // First entry to consider: after the markers, and not before the prefix.
    // (key, upload id, inclusive); "the smallest string after k" is k + NUL.
    let mut lower: (String, String, bool) = match (key_marker, id_marker) {
        (Some(km), Some(id)) if km >= q.prefix.as_str() => (km.to_owned(), id.to_owned(), false),
        (Some(km), None) if km >= q.prefix.as_str() => (format!("{km}\0"), String::new(), true),
        _ => (q.prefix.clone(), String::new(), true),
    };
    // Where the last entry ended: (key or prefix, upload id).
    let mut last: Option<(String, Option<String>)> = None;
    'scan: loop {
        let lo = (bucket, lower.0.as_str(), lower.1.as_str());
        let lo = if lower.2 {
            Bound::Included(lo)
        } else {
            Bound::Excluded(lo)
        };
        let range = index
            .range::<(&str, &str, &str)>((lo, Bound::Unbounded))
            .map_err(StoreError::db)?;
        for e in range {
            let (k, _) = e.map_err(StoreError::db)?;
            let (b, key, id) = k.value();
            if b != bucket || !key.starts_with(q.prefix.as_str()) {
                break 'scan;
            }
            if let Some(cp) = common_prefix(key, &q.prefix, delim) {
                // A group returned on an earlier page (the key marker is inside it) is skipped.
                let seen = key_marker.is_some_and(|km| km.starts_with(cp));
                if !seen {
                    if page.uploads.len() + page.common_prefixes.len() == q.max_uploads {
                        page.is_truncated = true;
                        break 'scan;
                    }
                    page.common_prefixes.push(cp.to_owned());
                    last = Some((cp.to_owned(), None));
                }
                // Seek past every upload in this group.
                match after_prefix(cp) {
                    Some(next) => {
                        lower = (next, String::new(), true);
                        continue 'scan;
                    }
                    None => break 'scan,
                }
            }
            if page.uploads.len() + page.common_prefixes.len() == q.max_uploads {
                page.is_truncated = true;
                break 'scan;
            }
            let r: UploadRecord = match uploads.get((bucket, id)).map_err(StoreError::db)? {
                Some(v) => record::decode(v.value())?,
                None => {
                    return Err(StoreError::Db(format!(
                        "the uploads index names upload {id} of {bucket}/{key}, which has no record"
                    )));
                }
            };
            page.uploads.push(crate::upload_info(id, r));
            last = Some((key.to_owned(), Some(id.to_owned())));
        }
        break;
    }
    if page.is_truncated
        && let Some((key, id)) = last
    {
        page.next_key_marker = Some(key);
        page.next_upload_id_marker = id;
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::after_prefix;

    #[test]
    fn after_prefix_is_the_least_upper_bound() {
        for (p, want) in [
            ("a/", Some("a0")),
            ("photos/", Some("photos0")),
            ("\u{10FFFF}", None),
            ("a\u{10FFFF}", Some("b")),
        ] {
            assert_eq!(after_prefix(p).as_deref(), want, "{p:?}");
        }
    }
}
