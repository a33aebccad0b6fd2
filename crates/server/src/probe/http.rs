//! `http://` and `https://`: the expected status (any 2xx by default), optionally a JSON
//! field's value; the URL's credentials are sent as basic auth.

use super::{Probe, Target};
use std::time::Duration;

/// The HTTP probe.
pub(super) struct Http;

impl Probe for Http {
    fn schemes(&self) -> &'static [&'static str] {
        &["http", "https"]
    }

    fn probe(&self, t: &Target, timeout: Duration) -> Result<(), String> {
        let mut req = crate::http_client::agent(timeout).get(&t.url);
        if let Some(auth) = basic_auth(&t.url) {
            req = req.header("Authorization", auth);
        }
        let resp = req.call().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let ok = match t.expect_status {
            Some(want) => status == want,
            None => (200..300).contains(&status),
        };
        if !ok {
            return Err(format!("HTTP {status}"));
        }
        if let Some(field) = &t.json_field {
            let body: serde_json::Value = resp
                .into_body()
                .read_json()
                .map_err(|_| "the body is not JSON".to_string())?;
            // An empty field: the body itself must be a non-empty string (Consul's
            // leader address).
            if field.is_empty() {
                return match body.as_str() {
                    Some(s) if !s.is_empty() => Ok(()),
                    _ => Err("no leader".into()),
                };
            }
            let got = field
                .split('.')
                .try_fold(&body, |v, k| v.get(k))
                .ok_or_else(|| format!("no field {field}"))?;
            if let Some(want) = &t.json_value
                && got != want
            {
                return Err(format!("{field} is {got}, expected {want}"));
            }
        }
        Ok(())
    }
}

/// `Basic ...` for a URL with credentials (`http://user:password@host/...`).
pub(super) fn basic_auth(url: &str) -> Option<String> {
    use base64::Engine as _;
    let parsed = url::Url::parse(url).ok()?;
    if parsed.username().is_empty() {
        return None;
    }
    let decode = |s: &str| {
        automagik_telemetry_core::parse::percent_decode(s).unwrap_or_else(|| s.to_string())
    };
    let pair = format!(
        "{}:{}",
        decode(parsed.username()),
        decode(parsed.password().unwrap_or(""))
    );
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}
