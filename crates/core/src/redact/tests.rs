use super::*;

fn redactor() -> Redactor {
    Redactor::builder()
        .salt(b"install-salt".to_vec())
        .build()
        .expect("built-in rules compile")
}

/// (input, expected output) pairs: every category has positives and near misses.
const CORPUS: &[(&str, &str)] = &[
    // e-mail
    (
        "contact alice.smith+tag@example.co.uk now",
        "contact [REDACTED:email] now",
    ),
    ("x@y.io", "[REDACTED:email]"),
    ("root@localhost", "root@localhost"),
    ("follow @alice on the forum", "follow @alice on the forum"),
    ("price is 5@3.00", "price is 5@3.00"),
    // phone
    ("call +1 415 555 2671 today", "call [REDACTED:phone] today"),
    ("call +4915112345678", "call [REDACTED:phone]"),
    ("(415) 555-2671", "[REDACTED:phone]"),
    ("415-555-2671", "[REDACTED:phone]"),
    ("020 7946 0958", "[REDACTED:phone]"),
    (
        "run 00262331-6790-46f4-b32a-4bef2942c8b0 ok",
        "run 00262331-6790-46f4-b32a-4bef2942c8b0 ok",
    ),
    ("call 0049 30 1234567", "call [REDACTED:phone]"),
    (
        "release 2024-01-15 at 12:30:45",
        "release 2024-01-15 at 12:30:45",
    ),
    ("order 12345678 shipped", "order 12345678 shipped"),
    ("version 1.2.3", "version 1.2.3"),
    ("+12", "+12"),
    // card (Luhn-checked, known issuer)
    ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"),
    ("4111-1111-1111-1111", "[REDACTED:card]"),
    ("5500005555555559", "[REDACTED:card]"),
    ("amex 378282246310005", "amex [REDACTED:card]"),
    ("4111 1111 1111 1112", "4111 1111 1111 1112"),
    ("ts 1700000000000123", "ts 1700000000000123"),
    ("1234567890123456", "1234567890123456"),
    // IPv4
    (
        "from 192.168.1.20 and 8.8.8.8",
        "from [REDACTED:ipv4] and [REDACTED:ipv4]",
    ),
    ("256.1.1.1", "256.1.1.1"),
    ("10.0.0", "10.0.0"),
    ("v1.2.3.4.5", "v1.2.3.4.5"),
    // IPv6
    ("peer 2001:db8::8a2e:370:7334 up", "peer [REDACTED:ipv6] up"),
    ("fe80::1%eth0", "[REDACTED:ipv6]"),
    ("::ffff:192.0.2.128", "[REDACTED:ipv6]"),
    ("use std::fmt::Display", "use std::fmt::Display"),
    ("mac 00:1a:2b:3c:4d:5e", "mac [REDACTED:mac]"),
    ("a::b", "a::b"),
    // JWT
    (
        "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "tok [REDACTED:jwt]",
    ),
    ("eyJhbGciOi alone", "eyJhbGciOi alone"),
    // Bearer / Basic
    (
        "Authorization: Bearer abc123def456ghi",
        "Authorization: Bearer [REDACTED:bearer]",
    ),
    ("basic dXNlcjpwYXNzd29yZA==", "basic [REDACTED:bearer]"),
    ("the bearer of bad news", "the bearer of bad news"),
    (
        "basic understanding required",
        "basic understanding required",
    ),
    // API key prefixes
    (
        "key sk-proj-abcdefghijklmnopqrstuvwx1234",
        "key [REDACTED:api_key]",
    ),
    (
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
        "[REDACTED:api_key]",
    ),
    (
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "[REDACTED:api_key]",
    ),
    ("gho_abcdefghijklmnopqrstuvwxyz01", "[REDACTED:api_key]"),
    ("ghs_abcdefghijklmnopqrstuvwxyz01", "[REDACTED:api_key]"),
    (
        "github_pat_11ABCDEFG0123456789_abcdefghij",
        "[REDACTED:api_key]",
    ),
    ("xoxb-1234567890-abcdefghij", "[REDACTED:api_key]"),
    ("xoxp-1234567890-abcdefghij", "[REDACTED:api_key]"),
    ("AKIAIOSFODNN7EXAMPLE", "[REDACTED:api_key]"),
    (
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "[REDACTED:api_key]",
    ),
    ("glpat-abcdefghij0123456789", "[REDACTED:api_key]"),
    (
        "task-runner uses sklearn and risk-assessment",
        "task-runner uses sklearn and risk-assessment",
    ),
    ("sk-short", "sk-short"),
    ("AKIA is a prefix", "AKIA is a prefix"),
    ("the ghp_ prefix", "the ghp_ prefix"),
    // PEM private keys
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done",
        "[REDACTED:private_key] done",
    ),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIE truncated",
        "[REDACTED:private_key]",
    ),
    ("-----BEGIN PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----"),
    // URL credentials and token-like query parameters
    (
        "postgres://admin:hunter2@db.internal:5432/app",
        "postgres://[REDACTED:credentials]@db.internal:5432/app",
    ),
    (
        "https://api.example.com/v1?page=2&token=abc123",
        "https://api.example.com/v1?page=2&token=[REDACTED:token]",
    ),
    ("/cb?code=xyz&state=1", "/cb?code=[REDACTED:token]&state=1"),
    (
        "https://example.com/docs?page=2&sort=asc",
        "https://example.com/docs?page=2&sort=asc",
    ),
    (
        "http://example.com:8080/path",
        "http://example.com:8080/path",
    ),
    // home-directory user names
    (
        "/home/alice/project/main.rs",
        "/home/[REDACTED:user]/project/main.rs",
    ),
    ("/Users/bob/Library", "/Users/[REDACTED:user]/Library"),
    (
        r"C:\Users\carol\AppData",
        r"C:\Users\[REDACTED:user]\AppData",
    ),
    ("/Users/Shared/data", "/Users/Shared/data"),
    ("/var/home-automation/x", "/var/home-automation/x"),
    // plain text stays
    ("checkout completed in 35 ms", "checkout completed in 35 ms"),
    ("", ""),
];

#[test]
fn corpus() {
    let r = redactor();
    let mut failures = Vec::new();
    for (input, want) in CORPUS {
        let got = r.redact_str(input);
        if got != *want {
            failures.push(format!("{input:?}\n   got  {got:?}\n   want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn clean_text_is_not_copied() {
    let r = redactor();
    assert!(matches!(
        r.redact_str("a perfectly ordinary message"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn redaction_is_idempotent() {
    let r = redactor();
    for (input, _) in CORPUS {
        let once = r.redact_str(input).into_owned();
        assert_eq!(r.redact_str(&once), once, "{input:?}");
    }
}

#[test]
fn luhn_and_issuers() {
    assert!(is_card_number("4111111111111111"));
    assert!(is_card_number("6011111111111117"));
    assert!(is_card_number("3530111333300000"));
    assert!(!is_card_number("4111111111111112"));
    // Passes Luhn but no issuer starts with 1.
    assert!(!is_card_number("1000000000000008"));
    assert!(!is_card_number("41111"));
}

#[test]
fn denied_keys_are_redacted_whole() {
    let r = redactor();
    let denied = [
        "password",
        "db_password",
        "passwd",
        "client_secret",
        "X-Auth-Token",
        "token",
        "api_key",
        "apiKey",
        "APIKEY",
        "Authorization",
        "cookie",
        "set-cookie",
        "session",
        "http.session",
        "credentials",
        "private_key",
        "privateKey",
        "sentry.dsn",
        "connection_string",
        "connectionString",
    ];
    for key in denied {
        assert_eq!(r.classify_key(key), KeyClass::Secret, "{key}");
    }
    let kept = [
        "gen_ai.usage.input_tokens",
        "max_tokens",
        "tokenizer",
        "session.id",
        "passage",
        "secretary_name",
        "http.method",
        "keyboard",
    ];
    for key in kept {
        assert_eq!(r.classify_key(key), KeyClass::Scan, "{key}");
    }
}

#[test]
fn attribute_redaction() {
    let r = redactor();
    let mut attrs = vec![
        KeyValue::new("password", "hunter2"),
        KeyValue::new("note", "mail me at a@b.com"),
        KeyValue::new("token_count", 42),
        KeyValue::new("user.id", "alice"),
        KeyValue::new("plan", "pro"),
        KeyValue::new(
            "nested",
            Value::Map(vec![
                KeyValue::new("secret", "x"),
                KeyValue::new("ip", "10.1.2.3"),
            ]),
        ),
    ];
    assert_eq!(r.redact_attributes(&mut attrs), 0);
    assert_eq!(attrs[0].value, Value::from("[REDACTED:secret]"));
    assert_eq!(attrs[1].value, Value::from("mail me at [REDACTED:email]"));
    // Numbers under a denied word are counts, not credentials.
    assert_eq!(attrs[2].value, Value::I64(42));
    let hashed = attrs[3].value.as_str().expect("hash is a string");
    assert_eq!(hashed.len(), 64);
    assert_ne!(hashed, "alice");
    assert_eq!(hashed, r.hash_user_id("alice"));
    assert_eq!(attrs[4].value, Value::from("pro"));
    assert_eq!(
        attrs[5].value,
        Value::Map(vec![
            KeyValue::new("secret", "[REDACTED:secret]"),
            KeyValue::new("ip", "[REDACTED:ipv4]")
        ])
    );
}

#[test]
fn salt_changes_the_hash() {
    let a = Redactor::builder()
        .salt(b"one".to_vec())
        .build()
        .expect("ok");
    let b = Redactor::builder()
        .salt(b"two".to_vec())
        .build()
        .expect("ok");
    assert_ne!(a.hash_user_id("alice"), b.hash_user_id("alice"));
    let unsalted = Redactor::builder().build().expect("ok");
    assert_eq!(unsalted.hash_user_id("alice"), "[REDACTED:user_id]");
}

#[test]
fn extend_and_allow_list() {
    let r = Redactor::builder()
        .add_rule("order_id", r"\bORD-\d{6}\b")
        .allow_value("support@example.com")
        .allow_pattern(r"10\.\d+\.\d+\.\d+")
        .allow_key("server.address")
        .deny_key("pin")
        .disable(PiiKind::HomeUser)
        .build()
        .expect("valid");
    assert_eq!(
        r.redact_str("order ORD-123456"),
        "order [REDACTED:order_id]"
    );
    assert_eq!(
        r.redact_str("write support@example.com not bob@example.com"),
        "write support@example.com not [REDACTED:email]"
    );
    assert_eq!(
        r.redact_str("10.0.0.1 and 192.168.0.1"),
        "10.0.0.1 and [REDACTED:ipv4]"
    );
    assert_eq!(r.redact_str("/home/alice/x"), "/home/alice/x");
    assert_eq!(r.classify_key("server.address"), KeyClass::Allowed);
    assert_eq!(r.classify_key("card_pin"), KeyClass::Secret);
    let mut attrs = vec![KeyValue::new("server.address", "192.168.0.9")];
    r.redact_attributes(&mut attrs);
    assert_eq!(attrs[0].value, Value::from("192.168.0.9"));
}

#[test]
fn invalid_custom_rule_is_an_error() {
    let err = Redactor::builder()
        .add_rule("bad", "(")
        .build()
        .expect_err("must fail");
    assert!(err.to_string().contains("bad"), "{err}");
}

#[test]
fn caps() {
    let r = Redactor::builder()
        .limits(Limits {
            max_value_bytes: 32,
            max_depth: 2,
            max_attributes: 3,
        })
        .build()
        .expect("ok");
    let long = "é".repeat(40);
    let cut = r.redact_str(&long);
    assert!(cut.len() <= 32, "{}", cut.len());
    assert!(cut.ends_with(TRUNCATED_MARKER));
    let mut attrs: Vec<KeyValue> = (0..5).map(|i| KeyValue::new(format!("k{i}"), i)).collect();
    assert_eq!(r.redact_attributes(&mut attrs), 2);
    assert_eq!(attrs.len(), 3);
    let deep = Value::Array(vec![Value::Array(vec![Value::Array(vec![Value::from(1)])])]);
    let mut attrs = vec![KeyValue::new("deep", deep)];
    r.redact_attributes(&mut attrs);
    assert_eq!(
        attrs[0].value,
        Value::Array(vec![Value::Array(vec![Value::from(DEPTH_MARKER)])])
    );
}

#[test]
fn free_text_credentials_keep_the_key_and_the_quotes() {
    let r = redactor();
    let cases = [
        (
            "login failed password=hunter2",
            "login failed password=[REDACTED:secret]",
        ),
        (
            r#"{"password": "hunter2", "token_count": 42}"#,
            r#"{"password": "[REDACTED:secret]", "token_count": 42}"#,
        ),
        ("PASSWORD='a b c'", "PASSWORD='[REDACTED:secret]'"),
        ("password: 1234", "password: [REDACTED:secret]"),
        ("X-Api-Key: abc123def", "X-Api-Key: [REDACTED:secret]"),
        // Counts under token keys are GenAI usage, not credentials.
        ("tokens: 42 max_tokens=100", "tokens: 42 max_tokens=100"),
        ("token_type=bearer", "token_type=bearer"),
        // An earlier, more specific rule keeps its marker.
        (
            "dsn=postgres://admin:hunter2@db.internal:5432/app",
            "dsn=postgres://[REDACTED:credentials]@db.internal:5432/app",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(r.redact_str(input), want, "{input:?}");
    }
}

#[test]
fn key_words_given_in_code_apply_to_free_text() {
    let r = Redactor::builder()
        .deny_key("pin")
        .allow_key("X-Api-Key")
        .build()
        .expect("valid");
    assert_eq!(
        r.redact_str("pin=1234 card_pin=9876 shipping=fast"),
        "pin=[REDACTED:secret] card_pin=[REDACTED:secret] shipping=fast"
    );
    assert_eq!(r.redact_str("X-Api-Key: abc123def"), "X-Api-Key: abc123def");
    // Without the word, a numeric pin is kept.
    assert_eq!(redactor().redact_str("pin=1234"), "pin=1234");
}

#[test]
fn explain_names_each_rule_and_the_range_it_replaced() {
    let r = redactor();
    let text = "mail a@example.com, Authorization: Basic dXNlcjpwYXNz, password=x1";
    let found = r.explain(text);
    let got: Vec<(&str, &str, &str)> = found
        .iter()
        .map(|m| (m.rule, m.marker, &text[m.range.clone()]))
        .collect();
    assert_eq!(
        got,
        [
            ("email", "email", "a@example.com"),
            ("basic", "bearer", "dXNlcjpwYXNz"),
            ("key_value", "secret", "x1"),
        ]
    );
    assert_eq!(found[1].kind, Some(PiiKind::Bearer));
    // The replacements rebuild exactly what redact_str returns.
    let mut rebuilt = String::new();
    let mut last = 0;
    for m in &found {
        rebuilt.push_str(&text[last..m.range.start]);
        rebuilt.push_str(&marker(m.marker));
        last = m.range.end;
    }
    rebuilt.push_str(&text[last..]);
    assert_eq!(rebuilt, r.redact_str(text));
    assert!(r.explain("nothing to see").is_empty());
}

#[test]
fn explain_reports_custom_rules_without_a_kind() {
    let r = Redactor::builder()
        .add_rule("order_id", r"\bORD-\d{6}\b")
        .build()
        .expect("valid");
    let found = r.explain("order ORD-123456 for x@example.com");
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].rule, found[0].kind), ("order_id", None));
    assert_eq!(found[0].range, 6..16);
    assert_eq!(
        (found[1].rule, found[1].kind),
        ("email", Some(PiiKind::Email))
    );
}

#[test]
fn rules_can_be_turned_off_by_kind_or_name() {
    let text = "mac 00:1a:2b:3c:4d:5e, Authorization: Basic dXNlcjpwYXNz, Bearer abc123def456";
    let no_mac = Redactor::builder()
        .disable(PiiKind::Mac)
        .build()
        .expect("valid");
    assert!(no_mac.redact_str(text).contains("00:1a:2b:3c:4d:5e"));
    let by_name = Redactor::builder()
        .disable_rule("mac")
        .disable_rule("basic")
        .build()
        .expect("valid");
    assert_eq!(
        by_name.redact_str(text),
        "mac 00:1a:2b:3c:4d:5e, Authorization: Basic dXNlcjpwYXNz, Bearer [REDACTED:bearer]"
    );
    let err = Redactor::builder()
        .disable_rule("no_such_rule")
        .build()
        .expect_err("unknown name");
    assert!(matches!(err, RedactorError::UnknownRule(ref n) if n == "no_such_rule"));
}

#[test]
fn every_kind_has_rules_in_the_order_of_all() {
    let mut first_seen = Vec::new();
    for b in BUILTIN {
        if !first_seen.contains(&b.kind) {
            first_seen.push(b.kind);
        }
    }
    assert_eq!(first_seen, PiiKind::ALL);
    assert_eq!(
        PiiKind::Bearer.rule_names().collect::<Vec<_>>(),
        ["bearer", "basic"]
    );
    assert_eq!(
        PiiKind::ApiKey.rule_names().collect::<Vec<_>>(),
        ["api_key", "aws_secret_key"]
    );
}

#[test]
fn iban_and_ssn_checks() {
    assert!(is_iban("DE89 3704 0044 0532 0130 00"));
    assert!(is_iban("GB82WEST12345698765432"));
    assert!(!is_iban("DE89 3704 0044 0532 0130 01"), "check digits");
    assert!(!is_iban("DE89 3704 0044 0532 0130"), "length");
    assert!(!is_iban("XX89 3704 0044 0532 0130 00"), "country");
    let r = redactor();
    assert_eq!(r.redact_str("ssn 123-45-6789"), "ssn [REDACTED:ssn]");
    for kept in [
        "000-12-3456",
        "666-12-3456",
        "912-34-5678",
        "123-00-4567",
        "123-45-0000",
    ] {
        assert_eq!(r.redact_str(kept), kept);
    }
}

#[test]
fn pem_blocks_are_tracked_across_lines() {
    let lines = [
        "key:",
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn",
        "-----END RSA PRIVATE KEY----- done",
        "-----BEGIN CERTIFICATE-----",
    ];
    let open: Vec<bool> = lines
        .iter()
        .scan(false, |open, line| {
            *open = private_key_block_open_after(*open, line);
            Some(*open)
        })
        .collect();
    assert_eq!(open, [false, true, true, false, false]);
    assert!(!private_key_block_open_after(
        false,
        "-----BEGIN PRIVATE KEY----- x -----END PRIVATE KEY-----"
    ));
}

#[test]
fn past_the_replacement_cap_the_rest_of_the_text_is_one_marker() {
    let r = redactor();
    // Exactly the cap: every secret replaced on its own, the text between kept.
    let at_cap = "password=hunter2 ".repeat(MAX_REPLACEMENTS);
    let out = r.redact_str(&at_cap);
    assert_eq!(out, "password=[REDACTED:secret] ".repeat(MAX_REPLACEMENTS));

    // One more, then clean text: the 65th value and everything after it are one marker.
    let text = format!("{at_cap}password=sesame and the rest of the line is clean");
    let out = r.redact_str(&text);
    let expected = format!(
        "{}password=[REDACTED:secret]",
        "password=[REDACTED:secret] ".repeat(MAX_REPLACEMENTS)
    );
    assert_eq!(out, expected);
    assert!(!out.contains("clean"));
    // Still a fixed point.
    assert_eq!(r.redact_str(&out), out);

    // explain() reports the same: the cap's replacement covers the input to its end.
    let explained = r.explain(&text);
    assert_eq!(explained.len(), MAX_REPLACEMENTS + 1);
    let last = explained.last().expect("replacements");
    assert_eq!(last.rule, "key_value");
    assert_eq!(last.range.end, text.len());
    assert_eq!(&text[last.range.start..last.range.start + 1], "s");
}

#[test]
fn the_cap_counts_per_rule_so_other_rules_still_replace_their_own() {
    let r = redactor();
    let text = format!(
        "{}reach jane@example.com from 10.0.0.1",
        "password=hunter2 ".repeat(MAX_REPLACEMENTS)
    );
    let out = r.redact_str(&text);
    assert!(
        out.ends_with("reach [REDACTED:email] from [REDACTED:ipv4]"),
        "{out}"
    );
    assert_eq!(out.matches("[REDACTED:secret]").count(), MAX_REPLACEMENTS);
}

#[test]
fn a_value_made_of_secrets_costs_a_bounded_number_of_replacements() {
    let r = redactor();
    let text = "password=hunter2 ".repeat(16 * 1024 / 17);
    let out = r.redact_str(&text);
    assert_eq!(
        out.matches("[REDACTED:secret]").count(),
        MAX_REPLACEMENTS + 1
    );
    assert!(out.len() < 64 * 32, "{} bytes", out.len());
    assert_eq!(r.redact_str(&out), out);
}

#[test]
fn the_key_value_groups_found_by_hand_are_the_patterns() {
    let r = redactor();
    let rule = r
        .rules
        .iter()
        .find(|rule| rule.name == "key_value")
        .expect("the key-value rule");
    let corpus = include_str!("../../tests/redaction/corpus.jsonl");
    let mut texts: Vec<String> = corpus
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_owned))
        .collect();
    texts.extend(CORPUS.iter().map(|(input, _)| (*input).to_owned()));
    texts.extend(
        [
            "password=hunter2",
            "password =  hunter2",
            "password\t:\tx1",
            "api_key => 'abc'",
            "token:=abc",
            "password:= ",
            "password:==",
            "\"password\": \"hunter2\"",
            "{\\\"password\\\": \\\"hunter2\\\"}",
            "'secret'='s3cr3t'",
            "DB_PASSWORD: s3cr3t",
            "x.session-id=abc;",
            "authorization: token abc123",
            "PASSWORD=${DB_PASSWORD}",
            "password=[REDACTED:secret]",
            "passwordK=x1",
            "paſſword=x1",
            "cookie=a=b=c",
        ]
        .map(str::to_owned),
    );
    let mut checked = 0;
    for text in &texts {
        for caps in rule.regex.captures_iter(text) {
            let whole = caps.get(0).expect("whole");
            let (Some(key), Some(keep)) = (caps.name("key"), caps.name("keep")) else {
                panic!("{text:?}: the pattern names key and keep");
            };
            if let Some((key_end, keep_end)) = key_value_groups(whole.as_str()) {
                assert_eq!(whole.start() + key_end, key.end(), "key of {text:?}");
                assert_eq!(whole.start() + keep_end, keep.end(), "keep of {text:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked} matches compared");
}

#[test]
fn turned_down_key_value_candidates_are_found_without_captures_and_kept() {
    let r = redactor();
    let text = "password=*** ".repeat(1200);
    assert_eq!(r.redact_str(&text), text);
    let text = "token_count: 42, ".repeat(900);
    assert_eq!(r.redact_str(&text), text);
}
