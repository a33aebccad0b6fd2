//! The client side of ClickHouse's HTTP interface: store URLs read into their parts,
//! and [`Http`], which posts one statement at a time with the credentials as headers
//! (`X-ClickHouse-User`, `X-ClickHouse-Key`) and reads the answer with its
//! `X-ClickHouse-Exception-Code`. The store and the ClickHouse probe ([`ping`]) both
//! use it; [`Http::new`] is the one way to build one.

use std::time::Duration;

const USER_AGENT: &str = concat!("automagik-telemetry-server/", env!("CARGO_PKG_VERSION"));

/// Where the store is, read from its URL.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) endpoint: String,
    pub(super) user: String,
    pub(super) password: String,
    pub(super) database: String,
    pub(super) cluster: Option<String>,
    pub(super) async_insert: bool,
}

/// Reads a store URL (the forms are in the store's module docs).
pub(super) fn parse_url(raw: &str) -> Result<Target, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    let (scheme, default_port) = match url.scheme() {
        "clickhouse" => ("http", 8123),
        "clickhouses" => ("https", 8443),
        "http" => ("http", 8123),
        "https" => ("https", 8443),
        other => return Err(format!("unknown scheme {other}")),
    };
    let host = url.host_str().ok_or("no host")?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let decode = |s: &str| {
        automagik_telemetry_core::parse::percent_decode(s)
            .ok_or_else(|| "bad percent-encoding in the credentials".to_string())
    };
    let mut target = Target {
        endpoint: format!("{scheme}://{host}:{}/", url.port().unwrap_or(default_port)),
        user: match url.username() {
            "" => "default".to_string(),
            u => decode(u)?,
        },
        password: decode(url.password().unwrap_or(""))?,
        database: url
            .path_segments()
            .and_then(|mut s| s.next())
            .filter(|s| !s.is_empty())
            .map(decode)
            .transpose()?
            .unwrap_or_else(|| "automagik".to_string()),
        cluster: None,
        async_insert: false,
    };
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "database" => target.database = v.into_owned(),
            "user" => target.user = v.into_owned(),
            "password" => target.password = v.into_owned(),
            "cluster" => target.cluster = Some(v.into_owned()).filter(|c| !c.is_empty()),
            "async_insert" => target.async_insert = matches!(v.as_ref(), "1" | "true"),
            other => return Err(format!("unknown parameter {other}")),
        }
    }
    Ok(target)
}

/// Keeps the error's code and name, never its text, which may quote row values.
pub(super) fn error_name(message: &str) -> &str {
    message
        .rfind('(')
        .and_then(|start| {
            let rest = &message[start + 1..];
            let name = &rest[..rest.find(')')?];
            (!name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
                .then_some(name)
        })
        .unwrap_or("error")
}

/// Checks that the ClickHouse server at `url` (a store URL) answers `SELECT 1` with its
/// credentials within `timeout`; the error names ClickHouse's code and error, never the
/// password.
pub fn ping(url: &str, timeout: Duration) -> Result<(), String> {
    Http::new(url, timeout)?.ping()
}

/// The HTTP interface of one ClickHouse server, with the credentials to use. Blocking;
/// safe to share between threads (its agent pools connections).
pub struct Http {
    agent: ureq::Agent,
    endpoint: String,
    user: String,
    password: String,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("endpoint", &self.endpoint)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// What the server answered: HTTP status, `X-ClickHouse-Exception-Code`, body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) code: Option<u32>,
    pub(super) body: String,
}

/// Why there is no [`Answer`].
pub(super) enum CallError {
    /// No connection, or it broke (or stalled past the timeout) before the whole answer
    /// was read: the server is out of reach.
    Transport(String),
    /// The answer's body could not be taken (over the size limit, not UTF-8).
    Body(String),
}

impl Http {
    /// A client of the server at `url` (a store URL, as `--storage` takes it), each call
    /// taking at most `timeout`. The error says what is wrong with the URL, never the
    /// password.
    pub fn new(url: &str, timeout: Duration) -> Result<Http, String> {
        Ok(Http::to(&parse_url(url)?, timeout))
    }

    /// A client of `target`.
    pub(super) fn to(target: &Target, timeout: Duration) -> Http {
        Http {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(timeout))
                .user_agent(USER_AGENT)
                .max_idle_connections_per_host(16)
                .build()
                .into(),
            endpoint: target.endpoint.clone(),
            user: target.user.clone(),
            password: target.password.clone(),
        }
    }

    /// The server's HTTP address, without credentials.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Checks that the server answers `SELECT 1` with these credentials; the error
    /// names ClickHouse's code and error, never the password.
    pub fn ping(&self) -> Result<(), String> {
        let answer = self
            .call("SELECT 1", None, 64 * 1024)
            .map_err(|e| match e {
                CallError::Transport(e) | CallError::Body(e) => e,
            })?;
        match (answer.status, answer.code) {
            (200, _) if answer.body.trim() == "1" => Ok(()),
            (200, _) => Err("SELECT 1 did not answer 1: not a ClickHouse server?".into()),
            (_, Some(code)) => Err(format!(
                "ClickHouse error {code} ({})",
                error_name(&answer.body)
            )),
            (status, None) => Err(format!("HTTP {status}: not a ClickHouse server?")),
        }
    }

    /// Sends `query` (with `data` as the rows of an INSERT), reading at most `limit`
    /// bytes of the answer.
    pub(super) fn call(
        &self,
        query: &str,
        data: Option<&str>,
        limit: u64,
    ) -> Result<Answer, CallError> {
        let req = self
            .agent
            .post(&self.endpoint)
            .header("X-ClickHouse-User", &self.user)
            .header("X-ClickHouse-Key", &self.password);
        let mut response = match data {
            Some(rows) => req.query("query", query).send(rows.as_bytes()),
            None => req.send(query.as_bytes()),
        }
        .map_err(|e| CallError::Transport(e.to_string()))?;
        let code = response
            .headers()
            .get("x-clickhouse-exception-code")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_string()
            .map_err(|e| {
                if broke_off(&e) {
                    CallError::Transport(e.to_string())
                } else {
                    CallError::Body(e.to_string())
                }
            })?;
        Ok(Answer {
            status: response.status().as_u16(),
            code,
            body,
        })
    }
}

/// Whether reading an answer failed because the connection broke or stalled (the
/// server went away in the middle of it), not because of what it sent.
fn broke_off(e: &ureq::Error) -> bool {
    use std::io::ErrorKind;
    match e {
        ureq::Error::Io(io) => {
            !matches!(io.kind(), ErrorKind::InvalidInput | ErrorKind::InvalidData)
        }
        ureq::Error::Timeout(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::broke_off;
    use std::io::{Error, ErrorKind};

    #[test]
    fn an_answer_cut_off_is_a_transport_failure_and_a_bad_one_is_not() {
        for kind in [ErrorKind::UnexpectedEof, ErrorKind::ConnectionReset] {
            assert!(broke_off(&ureq::Error::Io(Error::from(kind))), "{kind:?}");
        }
        assert!(!broke_off(&ureq::Error::Io(Error::from(
            ErrorKind::InvalidData
        ))));
        assert!(!broke_off(&ureq::Error::BodyExceedsLimit(1024)));
    }
}
