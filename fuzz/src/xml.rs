//! A small XML 1.0 well-formedness checker, enough for the documents keyless renders (elements,
//! attributes, text, the five entities and character references; no DTD, CDATA, comments or PIs
//! besides an XML declaration). It answers the leaf elements' text, unescaped, so a target can
//! check that what it put in is what a client reads back.

/// XML 1.0's `Char` production: what may appear in a document at all, escaped or not.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Checks `doc` and returns `(element name, text)` for every element that holds only text, in
/// document order.
pub fn leaves(doc: &str) -> Result<Vec<(String, String)>, String> {
    if let Some(bad) = doc.chars().find(|c| !is_xml_char(*c)) {
        return Err(format!("character {:?} is not allowed in XML 1.0", bad));
    }
    let mut rest = doc;
    if let Some(after) = rest.strip_prefix("<?xml") {
        let end = after.find("?>").ok_or("unterminated XML declaration")?;
        rest = &after[end + 2..];
    }
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut text = String::new();
    let mut had_child = false;
    let mut out = Vec::new();
    while !rest.is_empty() {
        match rest.find('<') {
            Some(0) => {}
            Some(i) => {
                let raw = &rest[..i];
                if stack.is_empty() && !raw.trim().is_empty() {
                    return Err(format!("text {raw:?} outside the root element"));
                }
                text.push_str(&unescape(raw)?);
                rest = &rest[i..];
            }
            None => {
                if !stack.is_empty() || !rest.trim().is_empty() {
                    return Err("text after the last tag, or unclosed elements".into());
                }
                break;
            }
        }
        if rest.is_empty() {
            break;
        }
        let end = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .ok_or_else(|| format!("end tag </{name}> without a start tag"))?;
            if open != name.trim_end() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
            if !had_child {
                out.push((open, std::mem::take(&mut text)));
            } else if !text.trim().is_empty() {
                return Err(format!("mixed content in <{open}>"));
            }
            text.clear();
            had_child = true;
        } else {
            let (body, empty) = match tag.strip_suffix('/') {
                Some(b) => (b, true),
                None => (tag, false),
            };
            let name = start_tag(body)?;
            if stack.is_empty() {
                roots += 1;
                if roots > 1 {
                    return Err("more than one root element".into());
                }
            } else if !text.trim().is_empty() {
                return Err(format!("mixed content before <{name}>"));
            }
            text.clear();
            if empty {
                out.push((name, String::new()));
                had_child = true;
            } else {
                stack.push(name);
                had_child = false;
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err("no root element".into());
    }
    Ok(out)
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_:-.".contains(c))
}

/// The name of a start tag; its attributes must be `name="value"` with a well-formed value.
fn start_tag(body: &str) -> Result<String, String> {
    let body = body.trim_end();
    let (name, mut attrs) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    if !is_name(name) {
        return Err(format!("bad element name {name:?}"));
    }
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            break;
        }
        let (attr, after) = attrs.split_once('=').ok_or("attribute without a value")?;
        if !is_name(attr.trim()) {
            return Err(format!("bad attribute name {attr:?}"));
        }
        let after = after.trim_start();
        let quote = after
            .chars()
            .next()
            .filter(|q| *q == '"' || *q == '\'')
            .ok_or("unquoted attribute")?;
        let close = after[1..].find(quote).ok_or("unterminated attribute value")?;
        let value = &after[1..1 + close];
        if value.contains('<') {
            return Err("'<' in an attribute value".into());
        }
        unescape(value)?;
        attrs = &after[close + 2..];
    }
    Ok(name.to_owned())
}

/// Replaces entity and character references; refuses a bare `&` and references to characters
/// XML does not allow.
pub fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let semi = rest[i..].find(';').ok_or("'&' without ';'")?;
        let name = &rest[i + 1..i + semi];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16)
                        .ok()
                        .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>()
                        .ok()
                        .filter(|_| dec.bytes().all(|b| b.is_ascii_digit()))
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .filter(|c| is_xml_char(*c))
                    .ok_or_else(|| format!("bad reference &{name};"))?
            }
        };
        out.push(c);
        rest = &rest[i + semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok = "<?xml version=\"1.0\"?>\n<A xmlns=\"x\">\n  <B>1 &amp; &lt;2&gt;</B>\n  <C/>\n  <D></D>\n</A>\n";
        assert_eq!(
            leaves(ok).unwrap(),
            vec![
                ("B".to_owned(), "1 & <2>".to_owned()),
                ("C".to_owned(), String::new()),
                ("D".to_owned(), String::new())
            ]
        );
        for bad in [
            "<A><B>x</A></B>",
            "<A>&</A>",
            "<A>a &bogus; b</A>",
            "<A>\u{1}</A>",
            "<A>&#1;</A>",
            "<A>x</A><B/>",
            "<A>x",
            "text<A/>",
            "<A x=1/>",
            "<A><B/>t</A>",
        ] {
            assert!(leaves(bad).is_err(), "{bad:?}");
        }
    }
}
