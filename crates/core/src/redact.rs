//! PII redaction: typed markers for sensitive substrings, whole-value redaction for
//! sensitive keys, salted hashing for user ids, and size and depth caps.
//!
//! A [`Redactor`] is built once and shared; redacting a clean string costs one pass of
//! a [`regex::RegexSet`] and allocates nothing. When the set matches, the rules that
//! matched rewrite the text one after the other, in the order of [`PiiKind::ALL`]; each
//! rule skips what an earlier one already replaced. [`Redactor::explain`] runs the same
//! rules and reports which rule replaced which part of the text (never the text itself),
//! so that rules can be tuned.

use crate::value::{Key, KeyValue, Value};
use regex::{Regex, RegexSet};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashSet;
use std::net::Ipv6Addr;
use std::ops::Range;

/// The categories of sensitive data the built-in rules find. Each is replaced by the
/// marker `[REDACTED:<name>]` with the name of [`PiiKind::marker_name`]; some kinds have
/// more than one rule ([`PiiKind::rule_names`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PiiKind {
    /// E-mail addresses, also percent-encoded inside URLs (`jane%40example.com`).
    /// Marker `email`.
    Email,
    /// Telephone numbers (international `+` form, NANP and leading-zero national forms).
    /// Marker `phone`.
    Phone,
    /// Payment card numbers with a known issuer prefix that pass the Luhn check.
    /// Marker `card`.
    Card,
    /// IPv4 addresses. A dotted number right after `v`, `ver`, `version` (also as the end
    /// of a key such as `app_version=`), `rev`, `build` or `release` is a version or build
    /// number and is kept. Marker `ipv4`.
    Ipv4,
    /// IPv6 addresses. Marker `ipv6`.
    Ipv6,
    /// JSON Web Tokens. Marker `jwt`.
    Jwt,
    /// Authorization values: `Bearer` tokens (rule `bearer`) and `Basic` credentials
    /// (rule `basic`), the latter of any length when they decode to `user:password`. Any
    /// value right after an `Authorization:` header name is redacted, however short.
    /// Marker `bearer`.
    Bearer,
    /// Provider API keys recognised by prefix (`sk-`, `ghp_`, `AKIA`, ...; rule
    /// `api_key`), and AWS secret access keys: 40 characters after `aws_secret_access_key`,
    /// `AWS_SECRET_KEY`, `SecretAccessKey` and the like (rule `aws_secret_key`).
    /// Marker `api_key`.
    ApiKey,
    /// PEM private key blocks, whole: the BEGIN line, the body and the END line (up to the
    /// end of the text when the END line is missing). Marker `private_key`.
    PrivateKey,
    /// `user:password@` (or `:password@`) in URLs. Marker `credentials`.
    UrlCredentials,
    /// Token-like URL query parameters (`?token=`, `&api_key=`, ...). Marker `token`.
    TokenParam,
    /// User names in home-directory paths. Marker `user`.
    HomeUser,
    /// Values of sensitive keys inside free text (rule `key_value`): `key=value`,
    /// `key: value`, `"key": "value"`, `key="value"`, `key='value'`, `key => value` and
    /// `key := value`, in any case, for every key that [`Redactor::classify_key`] calls a
    /// secret (`password`, `DB_PASSWORD`, `X-Api-Key`, `client_secret`, `session`, keys
    /// added with [`RedactorBuilder::deny_key`], ...), so that attribute keys and keys in
    /// text agree. Only the value is replaced, quotes kept: `password=[REDACTED:secret]`.
    /// Kept: placeholders (`null`, `true`, `***`, `${DB_PASSWORD}`, ...), and a plain
    /// number under a key that counts tokens or measures something (`token_count=42`,
    /// `password_min_length: 12`), as GenAI logs have them; `password: 1234` is redacted.
    /// Keys such as `tokens` or `max_tokens` are no secret's and are never touched.
    /// Marker `secret`, the same as for attributes of those keys.
    Secret,
    /// Webhook URLs that carry their token in the path: Slack (`hooks.slack.com/services/`),
    /// Discord (`discord.com/api/webhooks/`) and any other URL whose path has a
    /// `webhook(s)` or `hook(s)` segment followed by a token-like segment (16 or more
    /// letters and digits, at least two digits or a digit and both cases). The scheme,
    /// host and path up to that segment are kept. Marker `webhook`.
    Webhook,
    /// US social security numbers written `ddd-dd-dddd`, except the numbers never issued
    /// (area `000`, `666` or `900`-`999`, group `00`, serial `0000`) and those inside a
    /// longer dashed number (`ORD-123-45-6789`). Marker `ssn`.
    Ssn,
    /// International bank account numbers, with or without the spaces of the printed form,
    /// in capitals: the country's length and the mod-97 check digits must be right.
    /// Marker `iban`.
    Iban,
    /// MAC addresses (`00:1a:2b:3c:4d:5e`, `00-1A-2B-3C-4D-5E`, `001a.2b3c.4d5e`). They
    /// identify a device, so the rule is on by default; turn it off with
    /// `Redactor::builder().disable(PiiKind::Mac)`. Kept: the all-zero and broadcast
    /// addresses, and dashed or dotted forms without a hex letter (dates, serial numbers).
    /// Marker `mac`.
    Mac,
}

impl PiiKind {
    /// Every built-in kind, in the order their rules run.
    pub const ALL: [PiiKind; 17] = [
        PiiKind::PrivateKey,
        PiiKind::HomeUser,
        PiiKind::UrlCredentials,
        PiiKind::Webhook,
        PiiKind::TokenParam,
        PiiKind::Jwt,
        PiiKind::Bearer,
        PiiKind::ApiKey,
        PiiKind::Secret,
        PiiKind::Email,
        PiiKind::Iban,
        PiiKind::Card,
        PiiKind::Ssn,
        PiiKind::Ipv6,
        PiiKind::Mac,
        PiiKind::Ipv4,
        PiiKind::Phone,
    ];

    /// The name used inside the marker, as in `[REDACTED:email]`.
    pub fn marker_name(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Card => "card",
            PiiKind::Ipv4 => "ipv4",
            PiiKind::Ipv6 => "ipv6",
            PiiKind::Jwt => "jwt",
            PiiKind::Bearer => "bearer",
            PiiKind::ApiKey => "api_key",
            PiiKind::PrivateKey => "private_key",
            PiiKind::UrlCredentials => "credentials",
            PiiKind::TokenParam => "token",
            PiiKind::HomeUser => "user",
            PiiKind::Secret => "secret",
            PiiKind::Webhook => "webhook",
            PiiKind::Ssn => "ssn",
            PiiKind::Iban => "iban",
            PiiKind::Mac => "mac",
        }
    }

    /// The names of this kind's built-in rules, as [`Redactor::explain`] reports them and
    /// [`RedactorBuilder::disable_rule`] takes them.
    pub fn rule_names(self) -> impl Iterator<Item = &'static str> {
        BUILTIN
            .iter()
            .filter(move |b| b.kind == self)
            .map(|b| b.name)
    }
}

/// How a rule decides on what its pattern matched. The range given is the sensitive part
/// of the match (without the `keep` and `tail` groups) in the text being rewritten.
#[derive(Clone, Copy)]
enum Check {
    /// Every match is replaced.
    Always,
    /// A match is replaced when the function accepts it.
    Accept(fn(&str, Range<usize>) -> bool),
    /// The function says which part of the match to replace (the whole or a part of it),
    /// if any.
    Refine(fn(&str, Range<usize>) -> Option<Range<usize>>),
    /// The key-value rule: the `key` group's classification decides, and only the value,
    /// unquoted, is replaced ([`PiiKind::Secret`]).
    KeyValue,
}

/// A built-in rule. Patterns may name a `keep` group (kept before the marker), a `tail`
/// group (kept after it) and a `key` group (for [`Check::KeyValue`]).
struct Builtin {
    name: &'static str,
    kind: PiiKind,
    pattern: &'static str,
    check: Check,
}

/// Where the key-value rule's pattern takes the key words ([`KEY_VALUE_ANCHORS`] and the
/// first segments of words given to [`RedactorBuilder::deny_key`]).
const ANCHORS_SLOT: &str = "{anchors}";

/// What every key the key-value rule looks at contains (case-insensitively): the denied
/// key words, spelled with optional separators. [`Redactor::classify_key`] then decides.
const KEY_VALUE_ANCHORS: &str = r"password|passwd|passphrase|secret|token|api[_.\-]?key|authorization|cookie|credential|private[_.\-]?key|dsn|connection[_.\-]?string|session";

/// The built-in rules, in the order they run: the more specific first, so that a key's
/// value is replaced by its typed marker (`api_key=[REDACTED:api_key]`) and an IBAN is not
/// taken for a phone number.
const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "private_key",
        kind: PiiKind::PrivateKey,
        pattern: r"(?s)-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        check: Check::Always,
    },
    Builtin {
        name: "home_user",
        kind: PiiKind::HomeUser,
        pattern: r#"(?P<keep>/home/|/Users/|\b[A-Za-z]:\\Users\\)[^/\\\s:"'\[\]]+"#,
        check: Check::Accept(valid_home_user),
    },
    Builtin {
        name: "url_credentials",
        kind: PiiKind::UrlCredentials,
        pattern: r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s:@]*:[^/\s@]*(?P<tail>@)",
        check: Check::Always,
    },
    Builtin {
        name: "webhook",
        kind: PiiKind::Webhook,
        pattern: r#"(?i)(?P<keep>\bhttps?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/|(?:[a-z0-9-]+\.)?discord(?:app)?\.com/api/(?:v[0-9]+/)?webhooks/|[a-z0-9.-]+(?::[0-9]+)?/(?:[^\s?#"'<>]*/)?(?:webhooks?|hooks?|webhookb2)/))[A-Za-z0-9_\-/.~%=+@]+"#,
        check: Check::Accept(valid_webhook),
    },
    Builtin {
        name: "token_param",
        kind: PiiKind::TokenParam,
        pattern: r"(?i)(?P<keep>[?&;](?:access_token|refresh_token|id_token|auth_token|token|api_key|apikey|key|secret|client_secret|password|passwd|pwd|auth|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token|code|session|sessionid)=)[^&#\s]+",
        check: Check::Always,
    },
    Builtin {
        name: "jwt",
        kind: PiiKind::Jwt,
        pattern: r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        check: Check::Always,
    },
    Builtin {
        name: "bearer",
        kind: PiiKind::Bearer,
        pattern: r"(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9_.~+/-]+=*",
        check: Check::Accept(valid_bearer),
    },
    Builtin {
        name: "basic",
        kind: PiiKind::Bearer,
        pattern: r"(?i)(?P<keep>\bbasic\s+)[A-Za-z0-9+/]+={0,2}",
        check: Check::Accept(valid_basic),
    },
    Builtin {
        name: "api_key",
        kind: PiiKind::ApiKey,
        pattern: r"\b(?:sk-ant-[A-Za-z0-9_-]{20,}|sk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}|(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}|[spr]k_(?:live|test)_[A-Za-z0-9]{16,})",
        check: Check::Always,
    },
    Builtin {
        name: "aws_secret_key",
        kind: PiiKind::ApiKey,
        pattern: r#"(?i)(?P<keep>(?:aws[_.\- ]?secret(?:[_.\- ]?access)?(?:[_.\- ]?key)?|secret[_.\- ]?access[_.\- ]?key)(?:[\s"'`:=,>]|\\")*)(?-i:[A-Za-z0-9/+]{40})"#,
        check: Check::Accept(valid_aws_secret),
    },
    Builtin {
        name: "key_value",
        kind: PiiKind::Secret,
        // key, an optional closing quote, a separator, then the value: double-quoted
        // (JSON escapes), escaped-double-quoted (JSON inside a JSON string), single-quoted,
        // an authorization scheme and its credential, a bare word (markers of earlier
        // rules and `${VAR}` inside it), or a value whose quote is not closed.
        pattern: r#"(?i)(?P<keep>(?P<key>[A-Za-z0-9_.\-]*(?:{anchors})[A-Za-z0-9_.\-]*)(?:\\?["'])?[ \t]*(?:=>|:=|[:=])[ \t]*)(?:"(?:[^"\\\n]|\\.)*"|\\"(?:[^"\\\n]|\\[^"\n])*\\"|'[^'\n]*'|(?:token|digest|negotiate|ntlm|aws4-hmac-sha256)[ \t]+[^\s"',;]+|(?:\$\{[A-Za-z0-9_.:\-]*\}|[^\s"'`,;&(){}<>\\\[\]]|\[REDACTED:[A-Za-z0-9_.\-]*\])+|\\?["'][^\s"'\\,;&]+)"#,
        check: Check::KeyValue,
    },
    Builtin {
        name: "email",
        kind: PiiKind::Email,
        pattern: r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
        check: Check::Always,
    },
    Builtin {
        name: "iban",
        kind: PiiKind::Iban,
        pattern: r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
        check: Check::Refine(iban_range),
    },
    Builtin {
        name: "card",
        kind: PiiKind::Card,
        pattern: r"\b(?:\d[ -]?){12,18}\d\b",
        check: Check::Accept(valid_card),
    },
    Builtin {
        name: "ssn",
        kind: PiiKind::Ssn,
        pattern: r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b",
        check: Check::Accept(valid_ssn),
    },
    Builtin {
        name: "ipv6",
        kind: PiiKind::Ipv6,
        pattern: r"(?i)(?:[0-9a-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]{0,4})(?:%[0-9a-z]+)?",
        check: Check::Accept(valid_ipv6),
    },
    Builtin {
        name: "mac",
        kind: PiiKind::Mac,
        pattern: r"\b[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\b|\b[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}\b|\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b",
        check: Check::Accept(valid_mac),
    },
    Builtin {
        name: "ipv4",
        kind: PiiKind::Ipv4,
        pattern: r"\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b",
        check: Check::Accept(valid_ipv4),
    },
    Builtin {
        name: "phone",
        kind: PiiKind::Phone,
        pattern: r"(?:\+|\b00)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,5}\b|(?:\(\d{3}\)\s?|\b\d{3}[.-])\d{3}[.-]\d{4}\b|\b0\d{2,4}[ -]\d{3,4}[ -]\d{3,4}\b",
        check: Check::Accept(valid_phone),
    },
];

fn valid_webhook(h: &str, r: Range<usize>) -> bool {
    let before = &h[..r.start];
    let url = before.rfind("://").map_or(before, |i| &before[i + 3..]);
    let host = url.split('/').next().unwrap_or(url);
    let token = &h[r];
    if ends_with_ignore_case(host, "slack.com") || contains_ignore_case(host, "discord") {
        return token.len() >= 8;
    }
    token
        .split(['/', '@', '.', '~', '%', '=', '+'])
        .any(is_token_segment)
}

/// A path segment that looks generated rather than named: 16 or more letters, digits,
/// `-` and `_`, with two digits, or a digit and letters of both cases.
fn is_token_segment(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let lower = b.iter().any(u8::is_ascii_lowercase);
    b.len() >= 16
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        && (digits >= 2 || (digits == 1 && upper && lower))
        && digits < b.len()
}

fn valid_bearer(h: &str, r: Range<usize>) -> bool {
    let v = &h[r.clone()];
    (v.len() >= 8 && looks_like_token(v)) || after_authorization(&h[..r.start])
}

fn valid_basic(h: &str, r: Range<usize>) -> bool {
    let v = &h[r.clone()];
    decodes_to_user_password(v)
        || (v.len() >= 8 && looks_like_token(v))
        || after_authorization(&h[..r.start])
}

/// Whether the text before a value ends with `Authorization: <scheme> ` (or `=`, quotes).
fn after_authorization(before: &str) -> bool {
    let before = before
        .trim_end()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .trim_end_matches(|c: char| {
            c.is_whitespace() || matches!(c, ':' | '=' | '"' | '\'' | '\\')
        });
    ends_with_ignore_case(before, "authorization")
}

fn valid_aws_secret(h: &str, r: Range<usize>) -> bool {
    !h[r.end..].starts_with(|c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '+' | '='))
}

fn valid_card(h: &str, r: Range<usize>) -> bool {
    !h[..r.start].ends_with('+') && is_card_number(&h[r])
}

fn valid_ssn(h: &str, r: Range<usize>) -> bool {
    let s = h[r.clone()].as_bytes();
    if s.len() != 11 {
        return false;
    }
    let number = |from: usize, to: usize| {
        s[from..to]
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d.wrapping_sub(b'0')))
    };
    let (area, group, serial) = (number(0, 3), number(4, 6), number(7, 11));
    let rest = h.as_bytes().get(r.end..).unwrap_or_default();
    let inside_longer = h[..r.start].ends_with(['-', '.', '/'])
        || (matches!(rest.first(), Some(b'-' | b'.' | b'/'))
            && rest.get(1).is_some_and(u8::is_ascii_digit));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !inside_longer
}

fn valid_ipv6(h: &str, r: Range<usize>) -> bool {
    is_ipv6_address(&h[r])
}

fn valid_mac(h: &str, r: Range<usize>) -> bool {
    let s = &h[r.clone()];
    let before = h.as_bytes().get(..r.start).and_then(|b| b.last().copied());
    let after = h.as_bytes().get(r.end..).unwrap_or_default();
    let joined = matches!(before, Some(b':' | b'-' | b'.'))
        || (matches!(after.first(), Some(b':' | b'-' | b'.'))
            && after.get(1).is_some_and(u8::is_ascii_hexdigit));
    let all = |want: &[u8]| {
        s.bytes()
            .filter(u8::is_ascii_hexdigit)
            .all(|b| want.contains(&b))
    };
    let has_letter = s.bytes().any(|b| b.is_ascii_alphabetic());
    !joined && !all(b"0".as_slice()) && !all(b"fF".as_slice()) && (s.contains(':') || has_letter)
}

fn valid_ipv4(h: &str, r: Range<usize>) -> bool {
    !h[..r.start].ends_with('.')
        && !is_followed_by_dotted_digit(&h[r.end..])
        && !after_version_word(&h[..r.start])
}

/// Whether the text before a dotted number names a version or build (`version 1.2.3.4`,
/// `app_version=1.2.3.4`, `"version": "1.2.3.4"`, `v 1.2.3.4`).
fn after_version_word(before: &str) -> bool {
    let trimmed = before.trim_end_matches([' ', '\t', ':', '=', '_', '-', '"', '\'', '#']);
    let word = trimmed
        .rsplit(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    ["v", "ver", "rev", "build", "release"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
        || ends_with_ignore_case(word, "version")
}

fn valid_phone(h: &str, r: Range<usize>) -> bool {
    is_phone_number(&h[r.clone()]) && !in_uuid(h, r)
}

fn valid_home_user(h: &str, r: Range<usize>) -> bool {
    !matches!(&h[r], "Shared" | "Public")
}

/// The longest run of whole space-separated groups, from the start of the match, that is
/// a valid IBAN: a printed IBAN may be followed by another group of digits.
fn iban_range(h: &str, r: Range<usize>) -> Option<Range<usize>> {
    let mut end = r.end;
    loop {
        let candidate = &h[r.start..end];
        if is_iban(candidate) {
            return Some(r.start..end);
        }
        end = r.start + candidate.rfind(' ')?;
    }
}

/// IBAN lengths by country (the IBAN registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

/// Whether `s` (spaces ignored) is an IBAN: a known country, its length, and check digits
/// that pass mod 97.
pub fn is_iban(s: &str) -> bool {
    let compact: Vec<u8> = s.bytes().filter(|b| *b != b' ').collect();
    let Some(&(_, len)) = IBAN_LENGTHS
        .iter()
        .find(|(country, _)| compact.starts_with(country.as_bytes()))
    else {
        return false;
    };
    if compact.len() != len || !compact[2..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut rest = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        rest = match b {
            b'0'..=b'9' => (rest * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => (rest * 100 + u32::from(b - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rest == 1
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

fn contains_ignore_case(s: &str, needle: &str) -> bool {
    s.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Whether `v` is standard or URL-safe base64 (padded or not) of `user:password` text.
fn decodes_to_user_password(v: &str) -> bool {
    let Some(bytes) = base64_decode(v) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return false;
    };
    text.find(':').is_some_and(|i| i > 0) && !text.chars().any(char::is_control)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from(acc >> bits).unwrap_or(0));
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn is_followed_by_dotted_digit(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.first() == Some(&b'.') && b.get(1).is_some_and(u8::is_ascii_digit)
}

fn looks_like_token(s: &str) -> bool {
    s.bytes()
        .any(|b| b.is_ascii_digit() || b"._~+/-=".contains(&b))
}

fn is_ipv6_address(s: &str) -> bool {
    let addr = s.split('%').next().unwrap_or(s);
    addr.parse::<Ipv6Addr>().is_ok()
        && (addr.bytes().any(|b| b.is_ascii_digit())
            || addr.split(':').filter(|g| !g.is_empty()).count() >= 3)
}

/// Whether the match at `r` lies inside a UUID (`8-4-4-4-12` hex digits), whose digit
/// runs can look like a number (`00262331-6790-...`).
fn in_uuid(h: &str, r: Range<usize>) -> bool {
    let part = |b: u8| b.is_ascii_hexdigit() || b == b'-';
    let bytes = h.as_bytes();
    let start = bytes[..r.start]
        .iter()
        .rposition(|b| !part(*b))
        .map_or(0, |i| i + 1);
    let end = bytes[r.end..]
        .iter()
        .position(|b| !part(*b))
        .map_or(bytes.len(), |i| r.end + i);
    let groups: Vec<usize> = h[start..end].split('-').map(str::len).collect();
    groups == [8, 4, 4, 4, 12]
}

fn is_phone_number(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    (7..=15).contains(&digits)
}

/// Luhn check plus a known issuer prefix and length, so that ids and timestamps
/// that merely pass Luhn by chance are kept.
pub fn is_card_number(s: &str) -> bool {
    let digits: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let prefix = |n: usize| {
        digits[..n]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(*d))
    };
    let len = digits.len();
    let known_issuer = match digits[0] {
        4 => matches!(len, 13 | 16 | 19),                     // Visa
        5 => (51..=55).contains(&prefix(2)) && len == 16,     // Mastercard
        2 => (2221..=2720).contains(&prefix(4)) && len == 16, // Mastercard 2-series
        3 => {
            matches!(prefix(2), 34 | 37) && len == 15                       // Amex
            || prefix(2) == 35 && (16..=19).contains(&len)                   // JCB
            || matches!(prefix(2), 30 | 36 | 38 | 39) && (14..=19).contains(&len)
        } // Diners
        6 => {
            (prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)))
                && (16..=19).contains(&len)
        } // Discover
        _ => false,
    };
    known_issuer && luhn(&digits)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// For readers that redact text line by line, as the `redact` command does: whether a PEM
/// private key block is still open after `line`, given whether one was open before it.
/// While a block is open, join the lines up to its END line and redact them as one text,
/// so that the whole block (BEGIN line, body, END line) becomes one marker.
pub fn private_key_block_open_after(mut open: bool, line: &str) -> bool {
    let mut rest = line;
    while let Some(i) = rest.find("-----") {
        let after = &rest[i + 5..];
        if let Some(header) = after.strip_prefix("BEGIN") {
            let label = header.split("-----").next().unwrap_or("");
            if label.contains("PRIVATE KEY") {
                open = true;
            }
        } else if after.starts_with("END") {
            open = false;
        }
        rest = after;
    }
    open
}

/// The text put in place of what a rule found.
pub fn marker(name: &str) -> String {
    format!("[REDACTED:{name}]")
}

const MARKER_PREFIX: &str = "[REDACTED:";

/// Key words whose attributes are redacted whole, wherever they appear as a segment
/// of the key (`db_password`, `X-Auth-Token`, `apiKey`).
const DENIED_KEY_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "credentials",
    "credential",
    "privatekey",
    "dsn",
    "connectionstring",
    "passphrase",
];

/// Key words denied only as the last segment of the key: `session` is redacted, but
/// OpenTelemetry's `session.id` is kept.
const DENIED_LAST_WORDS: &[&str] = &["session"];

/// Key segments that make a plain number under a denied key a measure, not a secret
/// (`password_min_length: 12`, `token_limit=4096`), in free text.
const MEASURE_WORDS: &[&str] = &[
    "count",
    "counts",
    "length",
    "len",
    "size",
    "limit",
    "max",
    "min",
    "ttl",
    "age",
    "expiry",
    "expires",
    "timeout",
    "total",
    "used",
    "usage",
    "budget",
    "remaining",
    "version",
    "attempts",
    "retries",
    "days",
    "hours",
    "minutes",
    "seconds",
    "ms",
];

/// Values that stand for no secret (`password=null`, `token: expired`): kept by the
/// key-value rule (compared without case, and without `<>`, `[]` or `()` around them).
const PLACEHOLDER_VALUES: &[&str] = &[
    "null",
    "none",
    "nil",
    "undefined",
    "true",
    "false",
    "yes",
    "no",
    "on",
    "off",
    "ok",
    "empty",
    "set",
    "unset",
    "required",
    "missing",
    "invalid",
    "expired",
    "changed",
    "updated",
    "reset",
    "hidden",
    "masked",
    "redacted",
    "filtered",
    "removed",
    "n/a",
    "bearer",
    "basic",
];

/// Whether a value in free text is a placeholder, a mask (`***`, `xxxx`) or a reference
/// to a variable (`$DB_PASSWORD`, `${DB_PASSWORD}`, `%DB_PASSWORD%`), none of which is the
/// secret itself. `Bearer` and `Basic` alone are left to their own rules.
fn is_placeholder(v: &str) -> bool {
    if v.bytes()
        .all(|b| matches!(b, b'*' | b'x' | b'X' | b'.' | b'-' | b'#'))
    {
        return true;
    }
    let inner = v.trim_matches(['<', '>', '[', ']', '(', ')']);
    if PLACEHOLDER_VALUES
        .iter()
        .any(|p| inner.eq_ignore_ascii_case(p))
    {
        return true;
    }
    let variable = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    v.strip_prefix("${")
        .and_then(|n| n.strip_suffix('}'))
        .is_some_and(|n| !n.is_empty())
        || v.strip_prefix('$').is_some_and(variable)
        || v.strip_prefix('%')
            .and_then(|n| n.strip_suffix('%'))
            .is_some_and(variable)
}

/// A plain number (`42`, `0.5`) of at most 12 characters.
fn is_number(v: &str) -> bool {
    v.len() <= 12
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The value's quotes, as byte offsets of the part inside them: `"x"`, `'x'`, `\"x\"`,
/// or an opening quote that is not closed.
fn unquote(raw: &str) -> (usize, usize) {
    let len = raw.len();
    if raw.len() >= 4 && raw.starts_with("\\\"") && raw.ends_with("\\\"") {
        return (2, len - 2);
    }
    for q in ['"', '\''] {
        if len >= 2 && raw.starts_with(q) && raw.ends_with(q) {
            return (1, len - 1);
        }
    }
    if raw.starts_with("\\\"") || raw.starts_with("\\'") {
        return (2, len);
    }
    if raw.starts_with(['"', '\'']) {
        return (1, len);
    }
    (0, len)
}

/// A denied key word given in code.
#[derive(Debug)]
struct DeniedWord {
    first_segment: String,
    joined: String,
}

/// See [`Redactor::classify_key`]: substrings every denied or user-id key contains.
const KEY_ANCHORS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api",
    "authorization",
    "cookie",
    "credential",
    "private",
    "dsn",
    "connection",
    "passphrase",
    "session",
    "user",
];

/// Keys (normalized) whose values are user identifiers, hashed with the install's salt.
const USER_ID_KEYS: &[&str] = &["userid", "enduserid"];

/// A compiled rule: a built-in one or one added with [`RedactorBuilder::add_rule`].
struct Rule {
    /// The rule's name, as [`Redactor::explain`] reports it.
    name: Cow<'static, str>,
    /// The name inside the marker.
    marker_name: Cow<'static, str>,
    /// `[REDACTED:<marker_name>]`.
    marker: String,
    /// The built-in kind; `None` for custom rules.
    kind: Option<PiiKind>,
    regex: Regex,
    check: Check,
    /// Whether the pattern names `keep`, `tail` or `key` groups (then captures are needed).
    has_groups: bool,
}

impl Rule {
    fn new(
        name: Cow<'static, str>,
        marker_name: Cow<'static, str>,
        kind: Option<PiiKind>,
        regex: Regex,
        check: Check,
    ) -> Self {
        let has_groups = regex
            .capture_names()
            .flatten()
            .any(|n| matches!(n, "keep" | "tail" | "key"));
        Rule {
            marker: marker(&marker_name),
            name,
            marker_name,
            kind,
            regex,
            check,
            has_groups,
        }
    }
}

/// Limits applied to every value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest string kept, in bytes; longer ones are cut at a character boundary.
    pub max_value_bytes: usize,
    /// Deepest nesting of arrays and maps kept.
    pub max_depth: usize,
    /// Most attributes kept per record; the rest are dropped and counted.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_value_bytes: 16 * 1024,
            max_depth: 5,
            max_attributes: 128,
        }
    }
}

/// Marker appended to strings cut by [`Limits::max_value_bytes`].
pub const TRUNCATED_MARKER: &str = "...[TRUNCATED]";
/// Marker replacing values nested deeper than [`Limits::max_depth`].
pub const DEPTH_MARKER: &str = "[TRUNCATED:depth]";

/// Builds a [`Redactor`]: start from the built-in rules, then extend or allow-list.
#[derive(Default)]
pub struct RedactorBuilder {
    disabled: HashSet<PiiKind>,
    disabled_names: Vec<String>,
    custom: Vec<(String, String)>,
    allow_keys: HashSet<String>,
    allow_values: HashSet<String>,
    allow_patterns: Vec<String>,
    deny_keys: Vec<DeniedWord>,
    salt: Option<Vec<u8>>,
    limits: Limits,
    disable_all: bool,
}

/// Why a redactor could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactorError {
    /// A custom rule or allow pattern is not a valid regular expression.
    #[error("redaction pattern {name:?} is invalid: {source}")]
    Pattern {
        /// The rule's name.
        name: String,
        /// The regex error.
        #[source]
        source: Box<regex::Error>,
    },
    /// The denied key words could not be compiled.
    #[error("denied key words are invalid: {0}")]
    KeyWords(String),
    /// [`RedactorBuilder::disable_rule`] was given a name that no built-in rule or kind
    /// has.
    #[error("no built-in redaction rule or kind is named {0:?}")]
    UnknownRule(String),
}

impl RedactorBuilder {
    /// Turns the built-in rules of one kind off.
    pub fn disable(mut self, kind: PiiKind) -> Self {
        self.disabled.insert(kind);
        self
    }

    /// Turns built-in rules off by name: a rule's name (`basic`, `aws_secret_key`, as
    /// [`Redactor::explain`] reports them) or a kind's marker name (`mac`, `api_key`),
    /// which turns every rule of that kind off. A name that is neither makes
    /// [`build`](Self::build) fail.
    pub fn disable_rule(mut self, name: impl Into<String>) -> Self {
        self.disabled_names.push(name.into());
        self
    }

    /// Turns every built-in rule off (key rules and caps still apply).
    pub fn disable_builtin_rules(mut self) -> Self {
        self.disable_all = true;
        self
    }

    /// Adds a rule: whatever `pattern` matches becomes `[REDACTED:<name>]`.
    pub fn add_rule(mut self, name: impl Into<String>, pattern: impl Into<String>) -> Self {
        self.custom.push((name.into(), pattern.into()));
        self
    }

    /// Never redacts the value of this attribute key (caps still apply), nor its value
    /// after it in free text (`key=value`).
    pub fn allow_key(mut self, key: impl Into<String>) -> Self {
        self.allow_keys.insert(key.into());
        self
    }

    /// Keeps this exact text wherever a rule matches it (for example a support address).
    pub fn allow_value(mut self, value: impl Into<String>) -> Self {
        self.allow_values.insert(value.into());
        self
    }

    /// Keeps any matched text that this regular expression matches in full
    /// (for example `^10\.` style internal addresses).
    pub fn allow_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.allow_patterns.push(pattern.into());
        self
    }

    /// Redacts the whole value of keys containing this word as a segment, as attributes
    /// and in free text (`key=value`).
    pub fn deny_key(mut self, word: impl Into<String>) -> Self {
        let segments = normalize_key(&word.into());
        if let Some(first) = segments.first() {
            self.deny_keys.push(DeniedWord {
                first_segment: first.clone(),
                joined: segments.concat(),
            });
        }
        self
    }

    /// The per-install salt used to hash user ids. Without one, user ids are
    /// redacted instead of hashed.
    pub fn salt(mut self, salt: impl Into<Vec<u8>>) -> Self {
        self.salt = Some(salt.into());
        self
    }

    /// Size and depth caps.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Compiles the rules.
    pub fn build(mut self) -> Result<Redactor, RedactorError> {
        let mut disabled_rules: HashSet<&'static str> = HashSet::new();
        for name in &self.disabled_names {
            if let Some(kind) = PiiKind::ALL
                .iter()
                .find(|k| k.marker_name() == name.as_str())
            {
                self.disabled.insert(*kind);
            } else if let Some(rule) = BUILTIN.iter().find(|b| b.name == name.as_str()) {
                disabled_rules.insert(rule.name);
            } else {
                return Err(RedactorError::UnknownRule(name.clone()));
            }
        }
        // The key-value rule looks at keys holding a denied word, those given here too.
        let mut anchors = KEY_VALUE_ANCHORS.to_string();
        for word in &self.deny_keys {
            anchors.push('|');
            anchors.push_str(&regex::escape(&word.first_segment));
        }
        let mut rules = Vec::new();
        if !self.disable_all {
            for b in BUILTIN {
                if self.disabled.contains(&b.kind) || disabled_rules.contains(b.name) {
                    continue;
                }
                let pattern = match b.check {
                    Check::KeyValue => Cow::Owned(b.pattern.replace(ANCHORS_SLOT, &anchors)),
                    _ => Cow::Borrowed(b.pattern),
                };
                let regex = Regex::new(&pattern).map_err(|e| RedactorError::Pattern {
                    name: b.name.to_string(),
                    source: Box::new(e),
                })?;
                rules.push(Rule::new(
                    Cow::Borrowed(b.name),
                    Cow::Borrowed(b.kind.marker_name()),
                    Some(b.kind),
                    regex,
                    b.check,
                ));
            }
        }
        for (name, pattern) in self.custom {
            let regex = Regex::new(&pattern).map_err(|e| RedactorError::Pattern {
                name: name.clone(),
                source: Box::new(e),
            })?;
            let name: Cow<'static, str> = Cow::Owned(name);
            rules.push(Rule::new(name.clone(), name, None, regex, Check::Always));
        }
        let set = RegexSet::new(rules.iter().map(|r| r.regex.as_str())).map_err(|e| {
            RedactorError::Pattern {
                name: "set".into(),
                source: Box::new(e),
            }
        })?;
        let allow_patterns = self
            .allow_patterns
            .iter()
            .map(|p| {
                Regex::new(&format!("^(?:{p})$")).map_err(|e| RedactorError::Pattern {
                    name: format!("allow {p}"),
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut denied: Vec<String> = DENIED_KEY_WORDS.iter().map(|s| s.to_string()).collect();
        // Every key that can be classified as secret or user id contains one of these
        // (case-insensitively): the first segment of each denied word, "session", "user".
        let mut key_anchors: Vec<String> = KEY_ANCHORS.iter().map(|s| s.to_string()).collect();
        for word in &self.deny_keys {
            key_anchors.push(word.first_segment.clone());
        }
        denied.extend(self.deny_keys.into_iter().map(|w| w.joined));
        let key_prefilter = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&key_anchors)
            .map_err(|e| RedactorError::KeyWords(e.to_string()))?;
        Ok(Redactor {
            set,
            rules,
            allow_keys: self.allow_keys,
            allow_values: self.allow_values,
            allow_patterns,
            denied_words: denied,
            key_prefilter,
            salt: self.salt,
            limits: self.limits,
        })
    }
}

/// Applies the redaction rules. Cheap to share behind an `Arc`; `Send + Sync`.
pub struct Redactor {
    set: RegexSet,
    rules: Vec<Rule>,
    allow_keys: HashSet<String>,
    allow_values: HashSet<String>,
    allow_patterns: Vec<Regex>,
    denied_words: Vec<String>,
    key_prefilter: aho_corasick::AhoCorasick,
    salt: Option<Vec<u8>>,
    limits: Limits,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field(
                "rules",
                &self
                    .rules
                    .iter()
                    .map(|r| r.name.as_ref())
                    .collect::<Vec<_>>(),
            )
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What a key's name says about its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyClass {
    /// Scan the value with the rules.
    Scan,
    /// Allow-listed: keep the value (caps still apply).
    Allowed,
    /// Sensitive name: redact the whole value.
    Secret,
    /// A user id: hash it.
    UserId,
}

/// One replacement that [`Redactor::redact_str`] makes, as [`Redactor::explain`] reports
/// it: which rule, and where, but never the replaced text.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replacement<'r> {
    /// The rule's name: a built-in rule's ([`PiiKind::rule_names`]) or the name given to
    /// [`RedactorBuilder::add_rule`].
    pub rule: &'r str,
    /// The built-in kind; `None` for a rule added with [`RedactorBuilder::add_rule`].
    pub kind: Option<PiiKind>,
    /// The name inside the marker put in its place, as in `[REDACTED:<marker>]`.
    pub marker: &'r str,
    /// The bytes of the input that the marker replaced.
    pub range: Range<usize>,
}

/// A marker in the text being rewritten and the part of the original text it stands for.
struct Edit {
    /// Where the marker is in the current text.
    at: Range<usize>,
    /// What it replaced in the original text.
    original: Range<usize>,
    /// Index of the rule in `Redactor::rules`.
    rule: usize,
}

/// The position in the original text of position `p` of the current text, given the
/// markers put so far (sorted). A position inside a marker maps to the start of what it
/// replaced (`end` false) or to its end (`end` true).
fn to_original(edits: &[Edit], p: usize, end: bool) -> usize {
    let mut last: Option<&Edit> = None;
    for e in edits {
        if p <= e.at.start {
            break;
        }
        if p < e.at.end {
            return if end {
                e.original.end
            } else {
                e.original.start
            };
        }
        last = Some(e);
    }
    match last {
        Some(e) => e.original.end + (p - e.at.end),
        None => p,
    }
}

/// Updates `edits` after the parts `spans` (sorted, in the current text) were replaced by
/// markers of `marker_len` bytes. Markers inside a replaced part are merged into it.
fn record(edits: &mut Vec<Edit>, spans: &[Range<usize>], marker_len: usize, rule: usize) {
    let old = std::mem::take(edits);
    let (mut added, mut removed) = (0usize, 0usize);
    let shifted = |e: &Edit, added: usize, removed: usize| Edit {
        at: e.at.start + added - removed..e.at.end + added - removed,
        original: e.original.clone(),
        rule: e.rule,
    };
    let mut i = 0;
    for s in spans {
        let original = to_original(&old, s.start, false)..to_original(&old, s.end, true);
        while i < old.len() && old[i].at.end <= s.start {
            edits.push(shifted(&old[i], added, removed));
            i += 1;
        }
        while i < old.len() && old[i].at.start < s.end {
            i += 1;
        }
        let start = s.start + added - removed;
        edits.push(Edit {
            at: start..start + marker_len,
            original,
            rule,
        });
        added += marker_len;
        removed += s.end - s.start;
    }
    for e in &old[i..] {
        edits.push(shifted(e, added, removed));
    }
}

/// Most passes of the rules over one text (see [`Redactor::explain`]'s engine): the
/// second finds nothing in all but contrived text.
const MAX_PASSES: usize = 4;

/// What became of one match of a rule.
enum Verdict {
    /// Its sensitive part is replaced.
    Replaced,
    /// The rule has replaced [`MAX_REPLACEMENTS`] parts: the rest of the text, from this
    /// part on, is replaced whole, and the rule's search ends.
    RestReplaced,
    /// Kept by the allow-list: kept whole, nothing inside it searched again.
    Allowed,
    /// Not a secret by the rule's check: the search goes on inside it.
    TurnedDown,
}

/// How many times one rule searches again inside a match it turned down, per text.
const MAX_RETRIES: usize = 16;

/// Most parts one rule replaces one by one in one text. Past it, the rest of the text,
/// from the next part the rule would replace, is replaced whole by the rule's marker: a
/// value made of hundreds of secrets is not worth keeping apart, and replacing each costs
/// a search and a copy (`password=hunter2 ` repeated to 16 KiB is 963 of them).
pub const MAX_REPLACEMENTS: usize = 64;

/// The position after the character at `i` (past the end when `i` is the end).
fn after_char(text: &str, i: usize) -> usize {
    text.get(i..)
        .and_then(|rest| rest.chars().next())
        .map_or(i + 1, |c| i + c.len_utf8())
}

/// The key-value rule's `key` and `keep` groups in its match `m`, found without the
/// regex's capture engine (a search for the whole match costs about a tenth of one with
/// groups, and text made of turned-down candidates, `password=*** ` repeated, is mostly
/// that cost): the key is the run of key characters the match starts with, then an
/// optional closing quote, blanks, the separator and blanks, as the pattern has them.
/// Returns the ends of the key and of the kept part; `None`, so that the groups are
/// captured, for a match that is not ASCII (case folding lets other characters into the
/// key) or where the value would be empty (the pattern backtracked into the separator).
fn key_value_groups(m: &str) -> Option<(usize, usize)> {
    if !m.is_ascii() {
        return None;
    }
    let b = m.as_bytes();
    let blanks = |mut i: usize| {
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    };
    let key_end = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        .count();
    let mut i = key_end;
    if b.get(i) == Some(&b'\\') && matches!(b.get(i + 1), Some(b'"' | b'\'')) {
        i += 2;
    } else if matches!(b.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    i = blanks(i);
    let rest = b.get(i..)?;
    if rest.starts_with(b"=>") || rest.starts_with(b":=") {
        i += 2;
    } else if matches!(rest.first(), Some(b':' | b'=')) {
        i += 1;
    } else {
        return None;
    }
    let keep_end = blanks(i);
    (key_end > 0 && keep_end < b.len()).then_some((key_end, keep_end))
}

/// The longest marker looked back for by [`touches_marker`].
const MAX_MARKER_LEN: usize = 80;

/// Whether the match at `m` starts right after a marker or ends right before one.
fn touches_marker(text: &str, m: &Range<usize>) -> bool {
    let bytes = text.as_bytes();
    let prefix = MARKER_PREFIX.as_bytes();
    if bytes
        .get(m.end..)
        .is_some_and(|rest| rest.starts_with(prefix))
    {
        return true;
    }
    if m.start == 0 || bytes.get(m.start - 1) != Some(&b']') {
        return false;
    }
    // A marker's name has no `]`: look back for its opening a short way.
    let window = &bytes[m.start.saturating_sub(MAX_MARKER_LEN)..m.start - 1];
    window
        .windows(prefix.len())
        .rposition(|w| w == prefix)
        .is_some_and(|i| !window[i..].contains(&b']'))
}

/// `text` with each of `spans` (sorted, disjoint, on character boundaries) replaced by
/// `marker`.
fn splice(text: &str, spans: &[Range<usize>], marker: &str) -> String {
    let mut out = String::with_capacity(text.len() + spans.len() * marker.len());
    let mut last = 0;
    for s in spans {
        out.push_str(&text[last..s.start]);
        out.push_str(marker);
        last = s.end;
    }
    out.push_str(&text[last..]);
    out
}

impl Redactor {
    /// A builder starting from the built-in rules.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Redacts sensitive substrings of `text` and applies the length cap.
    /// Returns the input unchanged (borrowed, no allocation) when nothing matched.
    pub fn redact_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        truncate(self.rewrite(text, None), self.limits.max_value_bytes)
    }

    /// Which rule [`redact_str`](Self::redact_str) applies to which part of `text`, in
    /// the order of the text: the same rules, run the same way, with the ranges of the
    /// input they replace. The length cap is not reported. Use it to tune the rules
    /// ([`RedactorBuilder::disable_rule`], [`RedactorBuilder::allow_value`], ...); what
    /// it returns holds no part of the text.
    pub fn explain(&self, text: &str) -> Vec<Replacement<'_>> {
        let mut edits = Vec::new();
        self.rewrite(text, Some(&mut edits));
        edits
            .into_iter()
            .filter_map(|e| {
                let rule = self.rules.get(e.rule)?;
                Some(Replacement {
                    rule: rule.name.as_ref(),
                    kind: rule.kind,
                    marker: rule.marker_name.as_ref(),
                    range: e.original,
                })
            })
            .collect()
    }

    /// The rule engine of [`redact_str`](Self::redact_str) and [`explain`](Self::explain):
    /// passes of the rules until one changes nothing (at most [`MAX_PASSES`]), so that the
    /// result is redacted again to itself even where a marker changed what a rule sees
    /// (a word boundary, a version word replaced). A clean text costs one pass of the set.
    /// With `edits`, where each marker came from is recorded.
    fn rewrite<'a>(&self, text: &'a str, mut edits: Option<&mut Vec<Edit>>) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for _ in 0..MAX_PASSES {
            match self.pass(&out, edits.as_deref_mut()) {
                Some(next) => out = Cow::Owned(next),
                None => break,
            }
        }
        out
    }

    /// One pass: the set answers "anything at all?"; then the rules it matched run in
    /// order, each on the text the earlier ones left. `None` when nothing changed.
    fn pass(&self, text: &str, mut edits: Option<&mut Vec<Edit>>) -> Option<String> {
        if self.rules.is_empty() || !self.set.is_match(text) {
            return None;
        }
        let mut out: Option<String> = None;
        let mut spans = Vec::new();
        for i in self.set.matches(text) {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            let current = out.as_deref().unwrap_or(text);
            spans.clear();
            self.find(rule, current, &mut spans);
            if spans.is_empty() {
                continue;
            }
            if let Some(edits) = edits.as_deref_mut() {
                record(edits, &spans, rule.marker.len(), i);
            }
            out = Some(splice(current, &spans, &rule.marker));
        }
        out
    }

    /// The parts of `text` that `rule` replaces, in order. After a match that is turned
    /// down, the search goes on inside it (after its `keep` group, else one character
    /// on), so that a rejected candidate does not hide a real one within it
    /// (`tokens:password=...`, `1 4111 1111 1111 1111`); at most [`MAX_RETRIES`] times
    /// per rule and text, which bounds the work crafted text can cause. After
    /// [`MAX_REPLACEMENTS`] parts, the next one and everything after it are one part.
    fn find(&self, rule: &Rule, text: &str, spans: &mut Vec<Range<usize>>) {
        let mut at = 0;
        let mut retries = 0;
        while at <= text.len() {
            let quick = if matches!(rule.check, Check::KeyValue) {
                rule.regex.find_at(text, at).map(|m| {
                    let groups = key_value_groups(m.as_str());
                    (m, groups)
                })
            } else {
                None
            };
            let (whole, part, key) = if let Some((m, Some((key_end, keep_end)))) = quick {
                (
                    m.range(),
                    m.start() + keep_end..m.end(),
                    Some(&text[m.start()..m.start() + key_end]),
                )
            } else if rule.has_groups {
                let Some(caps) = rule.regex.captures_at(text, at) else {
                    break;
                };
                let Some(whole) = caps.get(0) else {
                    break;
                };
                let start = caps.name("keep").map_or(whole.start(), |m| m.end());
                let end = caps.name("tail").map_or(whole.end(), |m| m.start());
                let key = caps.name("key").map(|m| m.as_str());
                (whole.range(), start..end, key)
            } else {
                let Some(m) = rule.regex.find_at(text, at) else {
                    break;
                };
                (m.range(), m.range(), None)
            };
            let retry_at = if part.start > whole.start && part.start < whole.end {
                part.start
            } else {
                after_char(text, whole.start)
            };
            let verdict = self.accept(rule, text, whole.clone(), part, key, spans);
            if matches!(verdict, Verdict::RestReplaced) {
                break;
            }
            // An allowed value is kept whole: nothing inside it is searched again.
            let done = !matches!(verdict, Verdict::TurnedDown);
            at = if done || retries >= MAX_RETRIES || retry_at >= whole.end {
                if whole.is_empty() {
                    after_char(text, whole.end)
                } else {
                    whole.end
                }
            } else {
                retries += 1;
                retry_at
            };
        }
    }

    /// Adds the part of a match (`whole`, its sensitive part `r`) that `rule` replaces,
    /// if any, to `spans`, and says what became of the match. A match that touches or holds a marker is skipped: it exists
    /// only because an earlier rule put the marker there (a marker's `]` is a word
    /// boundary the original text did not have), and skipping it keeps redaction
    /// idempotent.
    fn accept(
        &self,
        rule: &Rule,
        text: &str,
        whole: Range<usize>,
        r: Range<usize>,
        key: Option<&str>,
        spans: &mut Vec<Range<usize>>,
    ) -> Verdict {
        if touches_marker(text, &whole) {
            return Verdict::TurnedDown;
        }
        let part = match rule.check {
            Check::Always => Some(r),
            Check::Accept(valid) => valid(text, r.clone()).then_some(r),
            Check::Refine(refine) => {
                refine(text, r.clone()).filter(|p| p.start >= r.start && p.end <= r.end)
            }
            Check::KeyValue => key.and_then(|k| self.key_value_secret(k, text, r)),
        };
        let Some(part) = part else {
            return Verdict::TurnedDown;
        };
        let Some(secret) = text.get(part.clone()) else {
            return Verdict::TurnedDown;
        };
        if self.is_allowed(secret) {
            return Verdict::Allowed;
        }
        if secret.is_empty()
            || secret.contains(MARKER_PREFIX)
            || spans.last().is_some_and(|last| part.start < last.end)
        {
            return Verdict::TurnedDown;
        }
        if spans.len() >= MAX_REPLACEMENTS {
            spans.push(part.start..text.len());
            return Verdict::RestReplaced;
        }
        spans.push(part);
        Verdict::Replaced
    }

    /// The key-value rule: the part of the value at `r` to replace, if `key` is a secret's
    /// and the value is not a placeholder or a measure (see [`PiiKind::Secret`]).
    fn key_value_secret(&self, key: &str, text: &str, r: Range<usize>) -> Option<Range<usize>> {
        if !self.allow_keys.is_empty() && self.allow_keys.contains(key) {
            return None;
        }
        let raw = text.get(r.clone())?;
        let (from, to) = unquote(raw);
        let value = raw.get(from..to)?;
        // A value holding a marker was handled by an earlier rule (`Bearer [REDACTED:jwt]`,
        // `postgres://[REDACTED:credentials]@db/app`).
        if value.is_empty() || is_placeholder(value) || value.contains(MARKER_PREFIX) {
            return None;
        }
        let segments = normalize_key(key);
        let joined = segments.concat();
        if USER_ID_KEYS.contains(&joined.as_str()) {
            return None;
        }
        let word = self.secret_word(&segments, &joined)?;
        let measure =
            word == "token" || segments.iter().any(|s| MEASURE_WORDS.contains(&s.as_str()));
        if measure && is_number(value) {
            return None;
        }
        Some(r.start + from..r.start + to)
    }

    fn is_allowed(&self, matched: &str) -> bool {
        (!self.allow_values.is_empty() && self.allow_values.contains(matched))
            || self.allow_patterns.iter().any(|p| p.is_match(matched))
    }

    /// Classifies an attribute key.
    pub fn classify_key(&self, key: &str) -> KeyClass {
        if !self.allow_keys.is_empty() && self.allow_keys.contains(key) {
            return KeyClass::Allowed;
        }
        // Most keys contain no denied word at all: answer without allocating.
        if !self.key_prefilter.is_match(key) {
            return KeyClass::Scan;
        }
        let segments = normalize_key(key);
        let joined = segments.concat();
        if USER_ID_KEYS.contains(&joined.as_str()) {
            return KeyClass::UserId;
        }
        if self.secret_word(&segments, &joined).is_some() {
            return KeyClass::Secret;
        }
        KeyClass::Scan
    }

    /// The denied word that makes a key (split into `segments`, `joined` without
    /// separators) a secret's, if any.
    fn secret_word<'a>(&'a self, segments: &'a [String], joined: &str) -> Option<&'a str> {
        let denied = |word: &str| {
            segments.iter().any(|s| s == word)
                || segments.windows(2).any(|w| {
                    w[0].len() + w[1].len() == word.len()
                        && word.starts_with(w[0].as_str())
                        && word.ends_with(w[1].as_str())
                })
                || joined == word
        };
        if let Some(word) = self.denied_words.iter().find(|w| denied(w.as_str())) {
            return Some(word.as_str());
        }
        segments
            .last()
            .map(String::as_str)
            .filter(|s| DENIED_LAST_WORDS.contains(s))
    }

    /// Salted SHA-256 of a user id, hex encoded; without a salt, a redaction marker.
    pub fn hash_user_id(&self, id: &str) -> String {
        match &self.salt {
            Some(salt) => {
                let mut h = Sha256::new();
                h.update(salt);
                h.update(id.as_bytes());
                hex::encode(h.finalize())
            }
            None => marker("user_id"),
        }
    }

    /// Redacts a list of attributes in place and applies every cap.
    /// Returns how many attributes were dropped by the count cap.
    pub fn redact_attributes(&self, attrs: &mut Vec<KeyValue>) -> u32 {
        let dropped = attrs.len().saturating_sub(self.limits.max_attributes);
        attrs.truncate(self.limits.max_attributes);
        for kv in attrs.iter_mut() {
            self.redact_pair(&kv.key, &mut kv.value, 0);
        }
        u32::try_from(dropped).unwrap_or(u32::MAX)
    }

    /// Redacts one attribute in place (key rules, value rules and caps).
    pub fn redact_attribute(&self, kv: &mut KeyValue) {
        self.redact_pair(&kv.key, &mut kv.value, 0);
    }

    fn redact_pair(&self, key: &Key, value: &mut Value, depth: usize) {
        match self.classify_key(key.as_str()) {
            KeyClass::Scan => self.redact_value(value, depth),
            KeyClass::Allowed => self.cap_value(value, depth),
            KeyClass::Secret => {
                if matches!(
                    value,
                    Value::Str(_) | Value::Bytes(_) | Value::Array(_) | Value::Map(_)
                ) {
                    *value = Value::Str(Cow::Borrowed("[REDACTED:secret]"));
                }
            }
            KeyClass::UserId => {
                let text = match value {
                    Value::Str(s) => Some(s.to_string()),
                    Value::I64(i) => Some(i.to_string()),
                    Value::Bytes(b) => Some(hex::encode(b)),
                    _ => None,
                };
                if let Some(text) = text {
                    *value = Value::Str(Cow::Owned(self.hash_user_id(&text)));
                } else {
                    self.redact_value(value, depth);
                }
            }
        }
    }

    /// Redacts one value (recursively) and applies the caps.
    pub fn redact_value(&self, value: &mut Value, depth: usize) {
        if depth >= self.limits.max_depth && matches!(value, Value::Array(_) | Value::Map(_)) {
            *value = Value::Str(Cow::Borrowed(DEPTH_MARKER));
            return;
        }
        match value {
            Value::Str(s) => {
                if let Cow::Owned(new) = self.redact_str(s) {
                    *s = Cow::Owned(new);
                }
            }
            Value::Bytes(b) => b.truncate(self.limits.max_value_bytes),
            Value::Array(items) => {
                items.truncate(self.limits.max_attributes);
                for item in items {
                    self.redact_value(item, depth + 1);
                }
            }
            Value::Map(kvs) => {
                kvs.truncate(self.limits.max_attributes);
                for kv in kvs {
                    self.redact_pair(&kv.key, &mut kv.value, depth + 1);
                }
            }
            Value::Bool(_) | Value::I64(_) | Value::F64(_) => {}
        }
    }

    fn cap_value(&self, value: &mut Value, depth: usize) {
        if depth >= self.limits.max_depth && matches!(value, Value::Array(_) | Value::Map(_)) {
            *value = Value::Str(Cow::Borrowed(DEPTH_MARKER));
            return;
        }
        match value {
            Value::Str(s) => {
                if let Cow::Owned(new) = truncate(Cow::Borrowed(s), self.limits.max_value_bytes) {
                    *s = Cow::Owned(new);
                }
            }
            Value::Bytes(b) => b.truncate(self.limits.max_value_bytes),
            Value::Array(items) => items.iter_mut().for_each(|v| self.cap_value(v, depth + 1)),
            Value::Map(kvs) => kvs
                .iter_mut()
                .for_each(|kv| self.cap_value(&mut kv.value, depth + 1)),
            _ => {}
        }
    }

    /// Redacts an owned-or-static string in place (log bodies, span and event names).
    pub fn redact_cow(&self, text: &mut Cow<'static, str>) {
        if let Cow::Owned(new) = self.redact_str(text) {
            *text = Cow::Owned(new);
        }
    }
}

fn truncate(text: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return text;
    }
    let mut cut = max.saturating_sub(TRUNCATED_MARKER.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}{}", &text[..cut], TRUNCATED_MARKER))
}

/// Splits a key into lowercase segments at punctuation and camelCase boundaries:
/// `X-Auth-Token` -> `[x, auth, token]`, `apiKey` -> `[api, key]`.
fn normalize_key(key: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                segments.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            segments.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

#[cfg(test)]
mod tests;
