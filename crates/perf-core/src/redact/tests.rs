//! `redact_url` over a table of URLs: credentials hidden, everything else kept.

use super::redact_url;

#[test]
fn credentials_are_replaced_and_everything_else_kept() {
    for (input, expected) in [
        ("", ""),
        ("redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("redis://:hunter2@cache:6379/0", "redis://***@cache:6379/0"),
        ("redis://default:hunter2@cache:6379/0", "redis://***@cache:6379/0"),
        ("rediss://alice@cache", "rediss://***@cache"),
        ("postgres://app:hunter2@db.internal:5432/prod", "postgres://***@db.internal:5432/prod"),
        ("postgresql://app:hunter2@db/prod?sslmode=require", "postgresql://***@db/prod?sslmode=require"),
        // Percent-encoded ':' and '@' in the password.
        ("postgres://app:hun%3Ater%402@db/x", "postgres://***@db/x"),
        // Unencoded ':' and '@' (and '/') in the password: the last '@' ends the user info.
        ("redis://app:hun:ter@2@cache/0", "redis://***@cache/0"),
        ("postgres://app:hun/ter2@db/x", "postgres://***@db/x"),
        ("mysql://user:hunter2@db/x", "mysql://***@db/x"),
        // A password in the query string.
        ("postgres://db/x?user=app&password=hunter2", "postgres://db/x?user=app&password=***"),
        ("postgres://db/x?PASSWORD=hunter2&sslmode=require#frag", "postgres://db/x?PASSWORD=***&sslmode=require#frag"),
        // No scheme.
        ("localhost:6379", "localhost:6379"),
        ("app:hunter2@db:5432/x", "***@db:5432/x"),
        ("host=db user=app password=hunter2", "***"),
        // Not a scheme: digits first.
        ("1x://app:hunter2@db", "***@db"),
    ] {
        let got = redact_url(input);
        assert_eq!(got, expected, "redact_url({input:?})");
        assert!(!got.contains("hunter2") && !got.contains("hun%3A"), "{input:?} leaked: {got}");
    }
}
