//! Policy strings with variables and wildcards.
//!
//! A Resource or condition value is first *expanded* — `${key}` replaced by the request's value for
//! that context key (or `${key, 'default'}`'s default), and the escapes `${*}`, `${?}`, `${$}` made
//! literal characters — then matched. Substituted text is always literal: a value that happens to
//! contain `*` never becomes a wildcard. Expansion yields `None` when a variable has no value and no
//! default, and such a value matches nothing.

use super::context::RequestContext;

/// One element of an expanded pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(char),
    /// `*`: any run of characters, including none.
    Any,
    /// `?`: exactly one character.
    One,
}

/// An expanded policy string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern(pub(crate) Vec<Tok>);

impl Pattern {
    /// The string as written after expansion, with wildcards standing for themselves (for the
    /// operators that do not glob, e.g. StringEquals).
    pub(crate) fn literal(&self) -> String {
        self.0
            .iter()
            .map(|t| match t {
                Tok::Lit(c) => *c,
                Tok::Any => '*',
                Tok::One => '?',
            })
            .collect()
    }

    /// Glob match of the whole `text`.
    pub(crate) fn matches(&self, text: &str, ignore_case: bool) -> bool {
        glob(&self.0, &text.chars().collect::<Vec<_>>(), ignore_case)
    }

    /// Splits at literal `:` into at most `n` parts (for ARN matching).
    pub(crate) fn split_colons(&self, n: usize) -> Vec<Pattern> {
        let mut parts = vec![Pattern(Vec::new())];
        for t in &self.0 {
            if *t == Tok::Lit(':') && parts.len() < n {
                parts.push(Pattern(Vec::new()));
            } else {
                parts.last_mut().unwrap().0.push(*t);
            }
        }
        parts
    }
}

/// Expands `template`: with `vars`, policy variables are substituted (policy version 2012-10-17);
/// without, `$` is an ordinary character (2008-10-17). `*` and `?` written in the policy are wildcards.
pub(crate) fn expand(template: &str, vars: Option<&RequestContext>) -> Option<Pattern> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if let (Some(vars), true) = (vars, rest.starts_with("${"))
            && let Some(end) = rest.find('}')
        {
            let inner = &rest[2..end];
            rest = &rest[end + 1..];
            match inner {
                "*" => out.push(Tok::Lit('*')),
                "?" => out.push(Tok::Lit('?')),
                "$" => out.push(Tok::Lit('$')),
                _ => {
                    let (name, default) = match inner.split_once(',') {
                        Some((name, default)) => {
                            let d = default.trim();
                            let d = d.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')).unwrap_or(d);
                            (name.trim(), Some(d))
                        }
                        None => (inner.trim(), None),
                    };
                    let value = match vars.get(name) {
                        Some([one]) => one.as_str(),
                        // A multivalued key cannot be substituted; fall back to the default.
                        _ => default?,
                    };
                    out.extend(value.chars().map(Tok::Lit));
                }
            }
            continue;
        }
        out.push(match c {
            '*' => Tok::Any,
            '?' => Tok::One,
            c => Tok::Lit(c),
        });
        rest = &rest[c.len_utf8()..];
    }
    Some(Pattern(out))
}

fn same(a: char, b: char, ignore_case: bool) -> bool {
    a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()))
}

/// Iterative glob with one backtrack point: linear in practice, never exponential.
fn glob(pat: &[Tok], text: &[char], ignore_case: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(Tok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Lit(c)) if same(*c, text[t], ignore_case) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|t| *t == Tok::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_table() {
        let cases: &[(&str, &str, bool, bool)] = &[
            ("*", "", false, true),
            ("*", "anything", false, true),
            ("a*c", "abbbc", false, true),
            ("a*c", "abbbd", false, false),
            ("a?c", "abc", false, true),
            ("a?c", "ac", false, false),
            ("*/*", "x/y/z", false, true),
            ("home/*", "home/", false, true),
            ("home/*", "home", false, false),
            ("s3:Get*", "s3:getobject", true, true),
            ("s3:Get*", "s3:getobject", false, false),
            ("**a", "bba", false, true),
            ("a*b*c", "aXbYbZc", false, true),
            ("", "", false, true),
            ("", "x", false, false),
            ("ü?", "üß", false, true),
        ];
        for (pat, text, ic, want) in cases {
            assert_eq!(expand(pat, None).unwrap().matches(text, *ic), *want, "{pat} ~ {text}");
        }
    }

    #[test]
    fn expand_table() {
        let mut ctx = RequestContext::new();
        ctx.insert("aws:username", "alice");
        ctx.insert("keyless:namespace", "star*ns");
        ctx.insert_multi("aws:TagKeys", ["a", "b"]);
        let cases: &[(&str, Option<&str>, &str, bool)] = &[
            // template, literal after expansion (None: unresolved), a probe, does it match
            ("home/${aws:username}/*", Some("home/alice/*"), "home/alice/x", true),
            ("home/${AWS:UserName}/*", Some("home/alice/*"), "home/bob/x", false),
            ("${keyless:namespace}", Some("star*ns"), "starXns", false), // substituted '*' is literal
            ("${keyless:namespace}", Some("star*ns"), "star*ns", true),
            ("a/${*}", Some("a/*"), "a/x", false),
            ("a/${*}", Some("a/*"), "a/*", true),
            ("${?}${$}", Some("?$"), "?$", true),
            ("${aws:missing}", None, "", false),
            ("${aws:missing, 'dflt'}/x", Some("dflt/x"), "dflt/x", true),
            ("${aws:TagKeys}", None, "a", false),
            ("${unterminated", Some("${unterminated"), "${unterminated", true),
            ("cost$", Some("cost$"), "cost$", true),
        ];
        for (tpl, literal, probe, want) in cases {
            let got = expand(tpl, Some(&ctx));
            assert_eq!(got.as_ref().map(Pattern::literal).as_deref(), *literal, "{tpl}");
            assert_eq!(got.is_some_and(|p| p.matches(probe, false)), *want, "{tpl} ~ {probe}");
        }
        // Version 2008-10-17: no substitution at all.
        assert_eq!(
            expand("home/${aws:username}", None).unwrap().literal(),
            "home/${aws:username}"
        );
    }
}
