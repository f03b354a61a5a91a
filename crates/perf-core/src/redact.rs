//! [`redact_url`]: a connection URL made safe for error messages, logs and
//! `Debug` output.

/// What replaces the credentials of a URL.
pub(crate) const REDACTED: &str = "***";

/// `url` with its credentials replaced by `***`, for messages and logs.
///
/// The whole user-info part is replaced, user name and password both:
/// `redis://user:secret@cache:6379/0` becomes `redis://***@cache:6379/0`.
/// The user info is everything between `://` and the *last* `@`, so a
/// password holding an unencoded `@`, `:` or `/` is still hidden (an `@`
/// later in the path or query hides more than needed, never less). The
/// value of a `password` query parameter (`?password=...`, as libpq
/// accepts) is replaced too. A URL without credentials is returned as is.
///
/// Input without a `scheme://` is not parsed as a URL: if it holds an `@`
/// everything up to the last `@` is replaced (`user:pw@host` becomes
/// `***@host`); if it holds an `=` (a `key=value` connection string that may
/// carry a password) it is replaced whole by `***`; otherwise it is returned
/// as is. The empty string stays empty.
///
/// # Examples
/// ```
/// use perf_core::redact_url;
/// assert_eq!(redact_url("postgres://app:hunter2@db:5432/prod"), "postgres://***@db:5432/prod");
/// assert_eq!(redact_url("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = split_scheme(url) else {
        return match url.rfind('@') {
            Some(at) => format!("{REDACTED}{}", &url[at..]),
            None if url.contains('=') => REDACTED.to_owned(),
            None => url.to_owned(),
        };
    };
    let (userinfo, rest) = match rest.rfind('@') {
        Some(at) => (true, &rest[at + 1..]),
        None => (false, rest),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    out.push_str("://");
    if userinfo {
        out.push_str(REDACTED);
        out.push('@');
    }
    match rest.split_once('?') {
        None => out.push_str(rest),
        Some((before, query)) => {
            out.push_str(before);
            out.push('?');
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        out.push_str(key);
                        out.push('=');
                        out.push_str(REDACTED);
                    }
                    _ => out.push_str(pair),
                }
            }
            if let Some(fragment) = fragment {
                out.push('#');
                out.push_str(fragment);
            }
        }
    }
    out
}

/// `("scheme", "rest")` when `url` starts with a valid scheme and `://`.
fn split_scheme(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

#[cfg(test)]
mod tests;
