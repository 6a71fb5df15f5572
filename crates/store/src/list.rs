//! Listing over the ordered `(bucket, key)` index, with prefix, delimiter and start-after.
//!
//! A page costs the page: the scan starts at the first candidate key, and when a delimiter
//! groups keys into a common prefix the scan seeks past the whole group instead of walking it.

use std::ops::Bound;

use redb::ReadableTable;

use crate::error::{StoreError, StoreResult};
use crate::record::{self, ObjectRecord};
use crate::types::{ListPage, ListQuery};

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
            if let Some(d) = delim
                && let Some(i) = key[q.prefix.len()..].find(d)
            {
                {
                    let cp = &key[..q.prefix.len() + i + d.len()];
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
