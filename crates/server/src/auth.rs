//! Bearer tokens with scopes. `ingest` may send OTLP, `read` may use the query API,
//! `admin` may do everything (and read `/metrics`). With no token configured the
//! server is open, which it only allows on a loopback address unless told otherwise.

use sha2::{Digest, Sha256};
use std::fmt;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send OTLP data.
    Ingest,
    /// Use the query API.
    Read,
    /// Everything, including `/metrics`.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Admin];
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "admin" => Ok(Scope::Admin),
            other => Err(format!(
                "unknown scope {other:?}; expected ingest, read or admin"
            )),
        }
    }
}

/// A configured token: kept as its SHA-256 digest only, so the secret itself is never
/// held, logged or compared byte by byte.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
    scopes: Vec<Scope>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl Token {
    /// A token with these scopes.
    pub fn new(secret: &str, scopes: &[Scope]) -> Self {
        Token {
            digest: digest(secret),
            scopes: scopes.to_vec(),
        }
    }

    /// Parses `SECRET` (every scope) or `SECRET:scope,scope`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (secret, scopes) = match spec.rsplit_once(':') {
            Some((secret, scopes)) if !scopes.is_empty() && !scopes.contains('/') => (
                secret,
                scopes
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<Scope>, String>>()?,
            ),
            _ => (spec, Scope::ALL.to_vec()),
        };
        if secret.len() < 16 {
            return Err("a token must be at least 16 characters long".into());
        }
        Ok(Token::new(secret, &scopes))
    }
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one the server does not know (401).
    Unauthenticated,
    /// A known token without the scope (403).
    Forbidden,
}

/// The configured tokens.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    tokens: Vec<Token>,
}

impl Auth {
    /// These tokens; none means the server is open.
    pub fn new(tokens: Vec<Token>) -> Self {
        Auth { tokens }
    }

    /// Whether any token is configured.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Checks an `Authorization` header value (`Bearer <token>`) for `scope`.
    pub fn check(&self, authorization: Option<&str>, scope: Scope) -> Result<(), Denied> {
        if self.tokens.is_empty() {
            return Ok(());
        }
        let presented = authorization
            .and_then(|h| {
                let (scheme, token) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(Denied::Unauthenticated)?;
        let d = digest(presented);
        let token = self
            .tokens
            .iter()
            .find(|t| t.digest == d)
            .ok_or(Denied::Unauthenticated)?;
        if token.scopes.contains(&scope) || token.scopes.contains(&Scope::Admin) {
            Ok(())
        } else {
            Err(Denied::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_schemes() {
        let auth = Auth::new(vec![
            Token::parse("ingest-only-token-123:ingest").expect("token"),
            Token::parse("reader-token-12345678:read").expect("token"),
            Token::parse("admin-token-123456789").expect("token"),
        ]);
        let check = |h: Option<&str>, s| auth.check(h, s);
        assert_eq!(
            check(Some("Bearer ingest-only-token-123"), Scope::Ingest),
            Ok(())
        );
        assert_eq!(
            check(Some("bearer  ingest-only-token-123 "), Scope::Ingest),
            Ok(())
        );
        assert_eq!(
            check(Some("Bearer ingest-only-token-123"), Scope::Read),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            check(Some("Bearer reader-token-12345678"), Scope::Read),
            Ok(())
        );
        assert_eq!(
            check(Some("Bearer admin-token-123456789"), Scope::Read),
            Ok(())
        );
        assert_eq!(
            check(Some("Bearer admin-token-123456789"), Scope::Admin),
            Ok(())
        );
        assert_eq!(check(None, Scope::Ingest), Err(Denied::Unauthenticated));
        assert_eq!(
            check(Some("Basic admin-token-123456789"), Scope::Read),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            check(Some("Bearer wrong-token-0000000"), Scope::Read),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(Auth::default().check(None, Scope::Admin), Ok(()));
        assert!(Token::parse("short").is_err());
        assert!(Token::parse("long-enough-token-123:write").is_err());
        // The secret never shows in debug output.
        assert!(!format!("{auth:?}").contains("admin-token"));
    }
}
