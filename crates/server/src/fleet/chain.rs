//! The hash chain over stored snapshots: each link is SHA-256 over the previous link's
//! hash and the snapshot's canonical JSON (object keys sorted, no spaces), so changing,
//! removing or reordering a stored snapshot breaks every later link.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash before the first snapshot.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored link: the snapshot as stored and the hashes stored beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// The snapshot's id.
    pub snapshot_id: String,
    /// The snapshot's canonical JSON.
    pub body: String,
    /// The previous link's hash.
    pub prev_hash: String,
    /// This link's hash.
    pub hash: String,
}

/// A value's canonical JSON: keys sorted at every depth, no whitespace.
pub fn canonical(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// The hash of a link.
pub fn hash(prev_hash: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// The link that follows `prev` (or starts the chain) for `snapshot`.
pub fn next(prev: Option<&Link>, snapshot_id: &str, snapshot: &Value) -> Link {
    let prev_hash = prev.map_or(GENESIS.to_string(), |p| p.hash.clone());
    let body = canonical(snapshot);
    Link {
        seq: prev.map_or(1, |p| p.seq + 1),
        snapshot_id: snapshot_id.to_string(),
        hash: hash(&prev_hash, &body),
        prev_hash,
        body,
    }
}

/// Why the chain breaks at a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The link's position.
    pub seq: u64,
    /// Its snapshot id.
    pub snapshot_id: String,
    /// What is wrong.
    pub reason: String,
}

/// Checks a chain link by link, in stored order, from its first link; it can be fed
/// one page at a time.
#[derive(Clone, Debug)]
pub struct Verifier {
    checked: u64,
    expected_prev: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            checked: 0,
            expected_prev: GENESIS.to_string(),
        }
    }
}

impl Verifier {
    /// Checks the next link; why it breaks the chain, if it does.
    pub fn check(&mut self, link: &Link) -> Option<Broken> {
        let position = self.checked + 1;
        let broken = |reason: String| {
            Some(Broken {
                seq: link.seq,
                snapshot_id: link.snapshot_id.clone(),
                reason,
            })
        };
        if link.seq != position {
            return broken(format!(
                "position {position} holds link {}: a snapshot before it was removed or moved",
                link.seq
            ));
        }
        if link.prev_hash != self.expected_prev {
            return broken("its previous hash is not the hash of the link before it: a snapshot before it was removed, moved or altered".into());
        }
        if hash(&link.prev_hash, &link.body) != link.hash {
            return broken("its content does not match its hash: the snapshot was altered".into());
        }
        self.checked = position;
        self.expected_prev.clone_from(&link.hash);
        None
    }

    /// Links checked and found intact.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last intact link (the genesis hash before any).
    pub fn head(&self) -> &str {
        &self.expected_prev
    }
}

/// Checks links in stored order; the first broken one, if any.
pub fn verify(links: &[Link]) -> Option<Broken> {
    let mut verifier = Verifier::default();
    links.iter().find_map(|l| verifier.check(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: usize) -> Vec<Link> {
        let mut links: Vec<Link> = Vec::new();
        for i in 0..n {
            let link = next(
                links.last(),
                &format!("s{i}"),
                &json!({"i": i, "b": {"z": 1, "a": [2, 1]}}),
            );
            links.push(link);
        }
        links
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        assert_eq!(
            canonical(&json!({"b": 1, "a": {"d": [{"y": 1, "x": 2}], "c": null}})),
            r#"{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn an_untouched_chain_verifies_and_each_tampering_is_named() {
        let links = chain(4);
        assert_eq!(verify(&links), None);
        // Altered content.
        let mut altered = links.clone();
        altered[2].body = altered[2].body.replace("\"i\":2", "\"i\":20");
        assert_eq!(verify(&altered).map(|b| b.snapshot_id), Some("s2".into()));
        // Removed.
        let mut removed = links.clone();
        removed.remove(1);
        assert_eq!(verify(&removed).map(|b| b.snapshot_id), Some("s2".into()));
        // Reordered.
        let mut reordered = links.clone();
        reordered.swap(1, 2);
        assert_eq!(verify(&reordered).map(|b| b.snapshot_id), Some("s2".into()));
        // Altered and re-hashed alone: the next link no longer follows it.
        let mut rehashed = links.clone();
        rehashed[1].body = rehashed[1].body.replace("\"i\":1", "\"i\":10");
        rehashed[1].hash = hash(&rehashed[1].prev_hash, &rehashed[1].body);
        assert_eq!(verify(&rehashed).map(|b| b.snapshot_id), Some("s2".into()));
    }
}
