//! Kafka URLs: `kafka://[user:password@]host:port[,host:port...][?mechanism=M]` (or
//! `kafkas://` for TLS) turned into librdkafka client properties, shared by the
//! `health` probe, the SDK's Kafka exporter and the `consume` command.
//!
//! Credentials select SASL: `PLAIN` by default, `SCRAM-SHA-256` or `SCRAM-SHA-512`
//! with `?mechanism=`. Other query keys are passed through as librdkafka properties
//! (`?client.id=api&socket.timeout.ms=5000`), so any client setting can be given.

use crate::parse::percent_decode;

/// A parsed Kafka URL. Its `Debug` form hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaUrl {
    /// `host:port` list.
    pub bootstrap_servers: String,
    /// TLS (`kafkas://`).
    pub tls: bool,
    /// SASL user and password.
    pub credentials: Option<(String, String)>,
    /// SASL mechanism (when there are credentials).
    pub mechanism: String,
    /// Other librdkafka properties from the query.
    pub properties: Vec<(String, String)>,
}

impl std::fmt::Debug for KafkaUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaUrl")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("mechanism", &self.mechanism)
            .field("properties", &self.properties)
            .finish()
    }
}

impl KafkaUrl {
    /// Parses a URL; the error never quotes the password.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("kafkas://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("kafka://") {
            (false, r)
        } else {
            return Err("a Kafka URL starts with kafka:// or kafkas://".into());
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let rest = rest.trim_end_matches('/');
        let (credentials, hosts) = match rest.rsplit_once('@') {
            Some((creds, hosts)) => {
                let (user, password) = creds.split_once(':').unwrap_or((creds, ""));
                let decode = |s: &str| {
                    percent_decode(s).ok_or("the URL's credentials are not valid percent-encoding")
                };
                (Some((decode(user)?, decode(password)?)), hosts)
            }
            None => (None, rest),
        };
        if hosts.is_empty() || hosts.contains('/') {
            return Err("expected kafka://host:port[,host:port...]".into());
        }
        let servers: Vec<String> = hosts
            .split(',')
            .map(|h| {
                let h = h.trim();
                if h.is_empty() {
                    Err("an empty broker address".to_string())
                } else if h
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
                {
                    Ok(h.to_string())
                } else {
                    Ok(format!("{h}:9092"))
                }
            })
            .collect::<Result<_, _>>()?;
        let mut mechanism = "PLAIN".to_string();
        let mut properties = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).ok_or_else(|| format!("{k}: not valid percent-encoding"))?;
            match k {
                "mechanism" | "sasl.mechanism" => mechanism = v.to_ascii_uppercase(),
                k if k.starts_with("sasl.") || k == "security.protocol" => {
                    return Err(format!(
                        "{k}: give credentials in the URL (user:password@) and TLS with kafkas://"
                    ));
                }
                _ => properties.push((k.to_string(), v)),
            }
        }
        if !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(&mechanism.as_str()) {
            return Err(format!(
                "mechanism {mechanism}: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
            ));
        }
        Ok(KafkaUrl {
            bootstrap_servers: servers.join(","),
            tls,
            credentials,
            mechanism,
            properties,
        })
    }

    /// The librdkafka properties of this URL.
    pub fn client_properties(&self) -> Vec<(String, String)> {
        let mut out = vec![(
            "bootstrap.servers".to_string(),
            self.bootstrap_servers.clone(),
        )];
        let protocol = match (self.tls, self.credentials.is_some()) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        };
        out.push(("security.protocol".into(), protocol.into()));
        if let Some((user, password)) = &self.credentials {
            out.push(("sasl.mechanism".into(), self.mechanism.clone()));
            out.push(("sasl.username".into(), user.clone()));
            out.push(("sasl.password".into(), password.clone()));
        }
        out.extend(self.properties.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(url: &str) -> Vec<(String, String)> {
        KafkaUrl::parse(url).expect("valid URL").client_properties()
    }

    fn get<'a>(p: &'a [(String, String)], key: &str) -> Option<&'a str> {
        p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn brokers_tls_credentials_and_properties() {
        let p = props("kafka://127.0.0.1:9092");
        assert_eq!(get(&p, "bootstrap.servers"), Some("127.0.0.1:9092"));
        assert_eq!(get(&p, "security.protocol"), Some("plaintext"));
        assert_eq!(get(&p, "sasl.username"), None);

        let p =
            props("kafkas://app:p%40ss%3Aword@b1:9093,b2/?mechanism=scram-sha-512&client.id=api");
        assert_eq!(get(&p, "bootstrap.servers"), Some("b1:9093,b2:9092"));
        assert_eq!(get(&p, "security.protocol"), Some("sasl_ssl"));
        assert_eq!(get(&p, "sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(get(&p, "sasl.username"), Some("app"));
        assert_eq!(get(&p, "sasl.password"), Some("p@ss:word"));
        assert_eq!(get(&p, "client.id"), Some("api"));

        let p = props("kafka://user:secret@broker:9092");
        assert_eq!(get(&p, "security.protocol"), Some("sasl_plaintext"));
        assert_eq!(get(&p, "sasl.mechanism"), Some("PLAIN"));
    }

    #[test]
    fn bad_urls_are_refused_without_quoting_the_password() {
        for url in [
            "http://broker:9092",
            "kafka://",
            "kafka://a,,b",
            "kafka://u:hunter2@b:9092?mechanism=GSSAPI",
            "kafka://u:hunter2@b:9092?sasl.password=x",
            "kafka://u:hunter2@b:9092/topic",
        ] {
            let err = KafkaUrl::parse(url).expect_err(url);
            assert!(!err.contains("hunter2"), "{url}: {err}");
        }
        let debug = format!("{:?}", KafkaUrl::parse("kafka://u:hunter2@b").expect("url"));
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
