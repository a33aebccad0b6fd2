//! PII redaction: typed markers for sensitive substrings, whole-value redaction for
//! sensitive keys, salted hashing for user ids, and size and depth caps.
//!
//! A [`Redactor`] is built once and shared; redacting a clean string costs one pass of
//! a [`regex::RegexSet`] and allocates nothing.

use crate::value::{Key, KeyValue, Value};
use regex::{Captures, Regex, RegexSet};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashSet;
use std::net::Ipv6Addr;

/// The categories of sensitive data the built-in rules find.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PiiKind {
    /// E-mail addresses.
    Email,
    /// Telephone numbers (international `+` form, NANP and leading-zero national forms).
    Phone,
    /// Payment card numbers with a known issuer prefix that pass the Luhn check.
    Card,
    /// IPv4 addresses.
    Ipv4,
    /// IPv6 addresses.
    Ipv6,
    /// JSON Web Tokens.
    Jwt,
    /// `Bearer` and `Basic` authorization values.
    Bearer,
    /// Provider API keys recognised by prefix (`sk-`, `ghp_`, `AKIA`, ...).
    ApiKey,
    /// PEM private key blocks.
    PrivateKey,
    /// `user:password@` in URLs.
    UrlCredentials,
    /// Token-like URL query parameters (`?token=`, `&api_key=`, ...).
    TokenParam,
    /// User names in home-directory paths.
    HomeUser,
}

impl PiiKind {
    /// Every built-in kind, in the order the rules run.
    pub const ALL: [PiiKind; 12] = [
        PiiKind::PrivateKey,
        PiiKind::UrlCredentials,
        PiiKind::TokenParam,
        PiiKind::Jwt,
        PiiKind::Bearer,
        PiiKind::ApiKey,
        PiiKind::Email,
        PiiKind::Card,
        PiiKind::Ipv6,
        PiiKind::Ipv4,
        PiiKind::Phone,
        PiiKind::HomeUser,
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
        }
    }

    /// The pattern and validator of the built-in rule. Patterns may name a `keep`
    /// group (kept before the marker) and a `tail` group (kept after it).
    fn rule(self) -> (&'static str, Option<Validator>) {
        match self {
            PiiKind::PrivateKey => (
                r"(?s)-----BEGIN[A-Z ]*PRIVATE KEY-----.*?(?:-----END[A-Z ]*PRIVATE KEY-----|\z)",
                None,
            ),
            PiiKind::UrlCredentials => (
                r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s:@]+:[^/\s@]*(?P<tail>@)",
                None,
            ),
            PiiKind::TokenParam => (
                r"(?i)(?P<keep>[?&;](?:access_token|refresh_token|id_token|auth_token|token|api_key|apikey|key|secret|client_secret|password|passwd|pwd|auth|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token|code|session|sessionid)=)[^&#\s]+",
                None,
            ),
            PiiKind::Jwt => (
                r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
                None,
            ),
            PiiKind::Bearer => (
                r"(?i)(?P<keep>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/-]{8,}=*",
                Some(|h, r| looks_like_token(&h[r])),
            ),
            PiiKind::ApiKey => (
                r"\b(?:sk-ant-[A-Za-z0-9_-]{20,}|sk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}|(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}|[spr]k_(?:live|test)_[A-Za-z0-9]{16,})",
                None,
            ),
            PiiKind::Email => (
                r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
                None,
            ),
            PiiKind::Card => (
                r"\b(?:\d[ -]?){12,18}\d\b",
                Some(|h, r| !h[..r.start].ends_with('+') && is_card_number(&h[r])),
            ),
            PiiKind::Ipv6 => (
                r"(?i)(?:[0-9a-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]{0,4})(?:%[0-9a-z]+)?",
                Some(|h, r| is_ipv6_address(&h[r])),
            ),
            PiiKind::Ipv4 => (
                r"\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b",
                Some(|h, r| {
                    !h[..r.start].ends_with('.') && !is_followed_by_dotted_digit(&h[r.end..])
                }),
            ),
            PiiKind::Phone => (
                r"(?:\+|\b00)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,5}\b|(?:\(\d{3}\)\s?|\b\d{3}[.-])\d{3}[.-]\d{4}\b|\b0\d{2,4}[ -]\d{3,4}[ -]\d{3,4}\b",
                Some(|h, r| is_phone_number(&h[r.clone()]) && !in_uuid(h, r)),
            ),
            PiiKind::HomeUser => (
                r#"(?P<keep>/home/|/Users/|\b[A-Za-z]:\\Users\\)[^/\\\s:"'\[\]]+"#,
                Some(|h, r| !matches!(&h[r], "Shared" | "Public")),
            ),
        }
    }
}

/// Decides whether a match is really sensitive, given the whole text and the
/// range of the sensitive part (without the `keep` and `tail` groups).
type Validator = fn(&str, std::ops::Range<usize>) -> bool;

fn is_followed_by_dotted_digit(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.first() == Some(&b'.') && b.get(1).is_some_and(u8::is_ascii_digit)
}

/// Which characters a text contains, gathered in one pass.
#[derive(Clone, Copy)]
struct Chars(u16);

impl Chars {
    const DIGIT: u16 = 1;
    const AT: u16 = 1 << 1;
    const COLON: u16 = 1 << 2;
    const EQUALS: u16 = 1 << 3;
    const DOT: u16 = 1 << 4;
    const SLASH: u16 = 1 << 5;
    const DASH: u16 = 1 << 6;
    const UNDERSCORE: u16 = 1 << 7;
    const SPACE: u16 = 1 << 8;
    const UPPER_A: u16 = 1 << 9;
    const LETTER_B: u16 = 1 << 10;
    const UPPER_J: u16 = 1 << 11;

    fn of(text: &str) -> Self {
        let mut bits = 0;
        for b in text.bytes() {
            bits |= match b {
                b'0'..=b'9' => Self::DIGIT,
                b'@' => Self::AT,
                b':' => Self::COLON,
                b'=' => Self::EQUALS,
                b'.' => Self::DOT,
                b'/' | b'\\' => Self::SLASH,
                b'-' => Self::DASH,
                b'_' => Self::UNDERSCORE,
                b' ' | b'\t' | b'\n' | b'\r' => Self::SPACE,
                b'A' => Self::UPPER_A,
                b'b' | b'B' => Self::LETTER_B,
                b'J' => Self::UPPER_J,
                _ => 0,
            };
        }
        Chars(bits)
    }

    fn has(self, bits: u16) -> bool {
        self.0 & bits == bits
    }

    fn any(self, bits: u16) -> bool {
        self.0 & bits != 0
    }
}

impl PiiKind {
    /// A cheap necessary condition on the characters present: text that fails it cannot
    /// match the rule's pattern, so the regex is not run at all.
    fn could_match(self, c: Chars) -> bool {
        match self {
            PiiKind::PrivateKey => c.has(Chars::DASH),
            PiiKind::UrlCredentials => c.has(Chars::COLON | Chars::SLASH | Chars::AT),
            PiiKind::TokenParam => c.has(Chars::EQUALS),
            PiiKind::Jwt => c.has(Chars::DOT | Chars::UPPER_J),
            PiiKind::Bearer => c.has(Chars::SPACE | Chars::LETTER_B),
            PiiKind::ApiKey => c.any(Chars::DASH | Chars::UNDERSCORE | Chars::UPPER_A),
            PiiKind::Email => c.has(Chars::AT | Chars::DOT),
            PiiKind::Card | PiiKind::Phone => c.has(Chars::DIGIT),
            PiiKind::Ipv6 => c.has(Chars::COLON),
            PiiKind::Ipv4 => c.has(Chars::DOT | Chars::DIGIT),
            PiiKind::HomeUser => c.has(Chars::SLASH),
        }
    }
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
fn in_uuid(h: &str, r: std::ops::Range<usize>) -> bool {
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

struct Rule {
    name: Cow<'static, str>,
    marker: String,
    regex: Regex,
    validate: Option<Validator>,
    /// The built-in kind, whose cheap pre-check gates the regex; `None` for custom rules.
    kind: Option<PiiKind>,
    /// Whether the pattern names `keep` or `tail` groups (then captures are needed).
    has_groups: bool,
}

impl Rule {
    fn new(
        name: Cow<'static, str>,
        kind: Option<PiiKind>,
        regex: Regex,
        validate: Option<Validator>,
    ) -> Self {
        let has_groups = regex
            .capture_names()
            .flatten()
            .any(|n| n == "keep" || n == "tail");
        Rule {
            marker: marker(&name),
            name,
            regex,
            validate,
            kind,
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
}

impl RedactorBuilder {
    /// Turns one built-in rule off.
    pub fn disable(mut self, kind: PiiKind) -> Self {
        self.disabled.insert(kind);
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

    /// Never redacts the value of this attribute key (caps still apply).
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

    /// Redacts the whole value of keys containing this word as a segment.
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
    pub fn build(self) -> Result<Redactor, RedactorError> {
        let mut rules = Vec::new();
        if !self.disable_all {
            for kind in PiiKind::ALL {
                if self.disabled.contains(&kind) {
                    continue;
                }
                let (pattern, validate) = kind.rule();
                let regex = Regex::new(pattern).map_err(|e| RedactorError::Pattern {
                    name: kind.marker_name().to_string(),
                    source: Box::new(e),
                })?;
                rules.push(Rule::new(
                    Cow::Borrowed(kind.marker_name()),
                    Some(kind),
                    regex,
                    validate,
                ));
            }
        }
        for (name, pattern) in self.custom {
            let regex = Regex::new(&pattern).map_err(|e| RedactorError::Pattern {
                name: name.clone(),
                source: Box::new(e),
            })?;
            rules.push(Rule::new(Cow::Owned(name), None, regex, None));
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
        let mut anchors: Vec<String> = KEY_ANCHORS.iter().map(|s| s.to_string()).collect();
        for word in &self.deny_keys {
            anchors.push(word.first_segment.clone());
        }
        denied.extend(self.deny_keys.into_iter().map(|w| w.joined));
        let key_prefilter = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&anchors)
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
        let mut out = Cow::Borrowed(text);
        // One pass of the whole set answers "anything at all?"; then only the rules whose
        // cheap pre-check passes run their own regex, in order.
        if !self.rules.is_empty() && self.set.is_match(text) {
            let chars = Chars::of(text);
            for rule in &self.rules {
                if rule.kind.is_some_and(|k| !k.could_match(chars)) {
                    continue;
                }
                if let Cow::Owned(next) = self.apply_rule(rule, &out) {
                    out = Cow::Owned(next);
                }
            }
        }
        truncate(out, self.limits.max_value_bytes)
    }

    fn apply_rule<'t>(&self, rule: &Rule, text: &'t str) -> Cow<'t, str> {
        if !rule.has_groups {
            // Plain matches: no capture groups to resolve, which is much cheaper.
            let mut out = String::new();
            let mut last = 0;
            for m in rule.regex.find_iter(text) {
                if out.capacity() == 0 {
                    out.reserve(text.len() + rule.marker.len());
                }
                let secret = m.as_str();
                let valid = rule.validate.is_none_or(|v| v(text, m.range()));
                if !valid || secret.starts_with(MARKER_PREFIX) || self.is_allowed(secret) {
                    continue;
                }
                out.push_str(&text[last..m.start()]);
                out.push_str(&rule.marker);
                last = m.end();
            }
            if last == 0 && out.is_empty() {
                return Cow::Borrowed(text);
            }
            out.push_str(&text[last..]);
            return Cow::Owned(out);
        }
        rule.regex.replace_all(text, |caps: &Captures<'_>| {
            let whole = caps.get(0).map_or("", |m| m.as_str());
            let keep = caps.name("keep").map_or("", |m| m.as_str());
            let tail = caps.name("tail").map_or("", |m| m.as_str());
            let start = caps.get(0).map_or(0, |m| m.start()) + keep.len();
            let secret = &whole[keep.len()..whole.len() - tail.len()];
            let valid = rule
                .validate
                .is_none_or(|v| v(text, start..start + secret.len()));
            if !valid || secret.starts_with(MARKER_PREFIX) || self.is_allowed(secret) {
                whole.to_string()
            } else {
                format!("{keep}{}{tail}", rule.marker)
            }
        })
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
        let denied = |word: &str| {
            segments.iter().any(|s| s == word)
                || segments.windows(2).any(|w| {
                    w[0].len() + w[1].len() == word.len() && format!("{}{}", w[0], w[1]) == word
                })
                || joined == word
        };
        if self.denied_words.iter().any(|w| denied(w))
            || segments
                .last()
                .is_some_and(|s| DENIED_LAST_WORDS.contains(&s.as_str()))
        {
            return KeyClass::Secret;
        }
        KeyClass::Scan
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
