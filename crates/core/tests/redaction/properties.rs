//! Properties over generated text: redaction never panics and is idempotent
//! (`redact(redact(x)) == redact(x)`, without the length cap, which may cut a marker);
//! `explain` names replacements that rebuild exactly what `redact_str` returns; and a
//! secret of each kind, embedded in other words, never survives.

use automagik_telemetry_core::redact::{Limits, Redactor};
use proptest::prelude::*;
use std::sync::OnceLock;

/// The built-in rules without a length cap.
fn redactor() -> &'static Redactor {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    REDACTOR.get_or_init(|| {
        Redactor::builder()
            .limits(Limits {
                max_value_bytes: usize::MAX,
                ..Limits::default()
            })
            .build()
            .expect("the built-in rules compile")
    })
}

/// Pieces of secrets, keys, separators and near misses, glued at random: the text that
/// makes rules meet each other's markers.
const FRAGMENTS: &[&str] = &[
    "password",
    "token",
    "=",
    ":",
    ": ",
    "\"",
    "'",
    "\\\"",
    "\\",
    " ",
    "\n",
    "Bearer ",
    "Basic ",
    "Authorization: ",
    "dXNlcjpwYXNz",
    "abc123",
    "[REDACTED:secret]",
    "[",
    "]",
    "{",
    "}",
    "$",
    "${X}",
    "@",
    "%40",
    "example.com",
    "a.b",
    ".",
    "192.168.1.1",
    "1.2.3.4",
    "version ",
    "v",
    "00:1a:2b:3c:4d:5e",
    "-",
    "123-45-6789",
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "4111 1111 1111 1111",
    "+1 415 555 2671",
    "https://",
    "hooks.slack.com/services/",
    "/webhooks/",
    "T00000000/B0000/XXXXXXXX",
    "3f9a8b7c6d5e4f3a2b1c",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "MIIE",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc",
    "sk-proj-abcdefghijklmnopqrstuvwx",
    "aws_secret_access_key=",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "?token=",
    "&",
    "user:pw@",
    "postgres://",
    "/home/",
    "alice",
    "é",
    "ß",
    "٣",
    "0",
    "9",
    "x",
    "X",
    ";",
    ",",
    ">",
    "<",
    "#",
    "*",
    "null",
    "api_key",
    "session",
    "DB_PASSWORD",
    "secret",
    "=>",
    ":=",
    "Token ",
    "cookie",
    "ff:ff",
    "AKIAIOSFODNN7EXAMPLE",
    "x@y.io",
    "fe80::1",
    "::",
    "%eth0",
    "ABCD",
    "1234",
    " 2024",
];

/// Innocent words, and what separates them in logs.
const WORDS: &[&str] = &[
    "request", "failed", "for", "user", "at", "ok", "from", "sent", "to", "status", "done",
    "retry", "queue", "in", "with", "the", "job",
];
const SEPARATORS: &[&str] = &[" ", ", ", "; ", " - ", "\n", "\t", " | "];

/// Keys whose values are secrets, and how logs write a key and its value.
const SECRET_KEYS: &[&str] = &[
    "password",
    "DB_PASSWORD",
    "client_secret",
    "X-Api-Key",
    "api_key",
    "auth_token",
    "passwd",
];
const KEY_VALUE_FORMS: &[&str] = &["{k}={v}", "{k}: {v}", "\"{k}\": \"{v}\"", "{k}='{v}'"];

/// A few innocent words, each followed by a separator.
fn filler() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(WORDS),
            prop::sample::select(SEPARATORS),
        ),
        0..5,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(w, s)| format!("{w}{s}"))
            .collect::<String>()
    })
}

/// The check digit that makes `digits` pass the Luhn check.
fn luhn_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    u8::try_from((10 - sum % 10) % 10).unwrap_or(0)
}

/// A German IBAN for an 18-digit account number, check digits computed.
fn german_iban(bban: &str) -> String {
    // Country letters D=13, E=14 and check digits 00 move behind the BBAN.
    let rearranged = format!("{bban}131400");
    let rest = rearranged
        .bytes()
        .fold(0u32, |rest, b| (rest * 10 + u32::from(b - b'0')) % 97);
    format!("DE{:02}{bban}", 98 - rest)
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A secret of one kind as it appears in a log (`fragment`), and the part of it that
/// must not survive redaction.
fn secret() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        "[a-z]{1,8}(\\.[a-z]{1,8})?@[a-z]{2,10}\\.(com|org|io|de)".prop_map(|e| (e.clone(), e)),
        "[a-z]{1,8}%40[a-z]{2,10}\\.(com|net)"
            .prop_map(|e| (format!("https://example.com/u?email={e}"), e)),
        prop::collection::vec(0u8..10, 14).prop_map(|mut digits| {
            digits.insert(0, 4);
            digits.push(luhn_digit(&digits));
            let card: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            (card.clone(), card)
        }),
        (1u32..900, 1u32..100, 1u32..10000).prop_filter_map("never issued", |(a, g, s)| {
            (a != 666).then(|| {
                let ssn = format!("{a:03}-{g:02}-{s:04}");
                (ssn.clone(), ssn)
            })
        }),
        "[0-9]{18}".prop_map(|bban| {
            let iban = german_iban(&bban);
            (format!("IBAN {iban}"), iban)
        }),
        prop::array::uniform6(1u8..255).prop_map(|b| {
            let mac = b.map(|x| format!("{x:02x}")).join(":");
            (mac.clone(), mac)
        }),
        prop::array::uniform4(1u8..255).prop_map(|b| {
            let ip = b.map(|x| x.to_string()).join(".");
            (ip.clone(), ip)
        }),
        (
            "[A-Za-z0-9_-]{10,20}",
            "[A-Za-z0-9_-]{10,20}",
            "[A-Za-z0-9_-]{10,30}"
        )
            .prop_map(|(h, p, s)| {
                let jwt = format!("eyJ{h}.eyJ{p}.{s}");
                (jwt.clone(), jwt)
            }),
        "ghp_[A-Za-z0-9]{36}|sk-proj-[A-Za-z0-9]{24}|AKIA[0-9A-Z]{16}".prop_map(|k| (k.clone(), k)),
        "[A-Za-z0-9/+]{40}".prop_map(|k| (format!("aws_secret_access_key={k}"), k)),
        (
            prop::sample::select(SECRET_KEYS),
            prop::sample::select(KEY_VALUE_FORMS),
            "[A-Za-z][A-Za-z0-9]{7,15}",
        )
            .prop_map(|(key, form, value)| {
                let text = form.replace("{k}", key).replace("{v}", &value);
                (text, value)
            }),
        // A digit makes the token unlike any other word of the text, however short.
        "[A-Za-z0-9]{0,29}[0-9]".prop_map(|t| (format!("Authorization: Bearer {t}"), t)),
        ("[a-z0-9]{1,10}", "[a-z0-9]{1,10}").prop_map(|(u, p)| {
            let basic = base64(format!("{u}:{p}").as_bytes());
            (format!("Authorization: Basic {basic}"), basic)
        }),
        prop::collection::vec("[A-Za-z0-9+/]{16,64}", 1..4).prop_map(|body| {
            let block = format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
                body.join("\n")
            );
            (block, body.join("\n"))
        }),
        ("[A-Z0-9]{8}", "[A-Z0-9]{8}", "[A-Za-z0-9]{24}").prop_map(|(t, b, token)| {
            (
                format!("https://hooks.slack.com/services/T{t}/B{b}/{token}"),
                token,
            )
        }),
        ("[a-z]{3,8}", "[A-Za-z0-9]{8,16}")
            .prop_map(|(u, pw)| (format!("postgres://{u}:{pw}@db.example.com/app"), pw)),
        "[a-z]{3,8}[0-9]{2}".prop_map(|u| (format!("/home/{u}/project"), u)),
        "[A-Za-z0-9]{8,20}".prop_map(|c| (format!("https://api.example.com/cb?code={c}"), c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_text_never_panics_and_is_idempotent(text in any::<String>()) {
        let r = redactor();
        let once = r.redact_str(&text).into_owned();
        prop_assert_eq!(r.redact_str(&once), once.as_str());
        for m in r.explain(&text) {
            prop_assert!(text.get(m.range.clone()).is_some(), "{:?} in {:?}", m, text);
        }
    }

    #[test]
    fn glued_fragments_are_idempotent_and_explained(
        parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..16)
    ) {
        let r = redactor();
        let text = parts.concat();
        let once = r.redact_str(&text).into_owned();
        prop_assert_eq!(r.redact_str(&once), once.as_str(), "input {:?}", text);
        // The replacements `explain` reports rebuild the redacted text exactly.
        let mut rebuilt = String::new();
        let mut last = 0;
        for m in r.explain(&text) {
            prop_assert!(m.range.start >= last, "{:?} overlaps in {:?}", m, text);
            let before = text.get(last..m.range.start);
            prop_assert!(before.is_some(), "{:?} off a boundary in {:?}", m, text);
            rebuilt.push_str(before.unwrap_or_default());
            rebuilt.push_str(&format!("[REDACTED:{}]", m.marker));
            last = m.range.end;
        }
        rebuilt.push_str(text.get(last..).unwrap_or_default());
        prop_assert_eq!(rebuilt, once, "input {:?}", text);
    }

    #[test]
    fn embedded_secrets_never_survive(
        case in secret(),
        before in filler(),
        after in filler(),
    ) {
        let (fragment, secret) = case;
        let r = redactor();
        let text = format!("{before}{fragment} {after}");
        let out = r.redact_str(&text);
        prop_assert!(!out.contains(secret.as_str()), "{:?} kept in {:?}", secret, out);
        prop_assert!(out.contains("[REDACTED:"), "{:?}", out);
        prop_assert_eq!(r.redact_str(&out), out.clone());
    }
}
