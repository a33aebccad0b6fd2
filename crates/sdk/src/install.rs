//! The anonymous install id and the per-install salt used to hash user ids, kept in
//! the user's config directory (`$XDG_CONFIG_HOME/automagik-telemetry/install.json`
//! on Linux). Neither identifies the user: both are random.

use rand::Rng;
use std::fs;
use std::path::{Path, PathBuf};

/// File name inside the state directory.
pub const INSTALL_FILE: &str = "install.json";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InstallState {
    pub install_id: String,
    pub salt: Vec<u8>,
    /// Where it is kept; `None` when it could not be saved (it then lives for this process only).
    pub path: Option<PathBuf>,
}

/// The default state directory.
pub fn default_state_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("automagik-telemetry"))
}

impl InstallState {
    fn random() -> Self {
        let mut salt = vec![0u8; 32];
        rand::rng().fill(&mut salt[..]);
        InstallState {
            install_id: uuid::Uuid::new_v4().to_string(),
            salt,
            path: None,
        }
    }

    fn read(path: &Path) -> Option<Self> {
        let text = fs::read_to_string(path).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let id = v["install_id"].as_str()?;
        uuid::Uuid::parse_str(id).ok()?;
        let salt = hex::decode(v["salt"].as_str()?)
            .ok()
            .filter(|s| s.len() >= 16)?;
        Some(InstallState {
            install_id: id.to_string(),
            salt,
            path: Some(path.to_path_buf()),
        })
    }

    /// Reads the state from `dir`, creating it on first use. Two processes starting at
    /// once agree on one id: the file is created with a hard link, which fails when it
    /// exists, and the loser reads the winner's.
    pub fn load_or_create(dir: Option<&Path>) -> Self {
        let Some(dir) = dir.map(Path::to_path_buf).or_else(default_state_dir) else {
            return Self::random();
        };
        let path = dir.join(INSTALL_FILE);
        if let Some(state) = Self::read(&path) {
            return state;
        }
        let fresh = Self::random();
        let body =
            serde_json::json!({ "install_id": fresh.install_id, "salt": hex::encode(&fresh.salt) });
        let tmp = dir.join(format!(".{INSTALL_FILE}.{}.tmp", std::process::id()));
        let created = fs::create_dir_all(&dir)
            .and_then(|()| fs::write(&tmp, body.to_string()))
            .and_then(|()| {
                let _ = fs::remove_file(&path).map_err(|_| ()); // an unreadable file is replaced
                fs::hard_link(&tmp, &path)
            });
        let _ = fs::remove_file(&tmp);
        match created {
            Ok(()) => InstallState {
                path: Some(path),
                ..fresh
            },
            Err(_) => Self::read(&path).unwrap_or(fresh),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = InstallState::load_or_create(Some(dir.path()));
        assert!(a.path.is_some());
        assert_eq!(a.salt.len(), 32);
        let b = InstallState::load_or_create(Some(dir.path()));
        assert_eq!(a, b);
    }

    #[test]
    fn corrupt_file_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(INSTALL_FILE), "{not json").expect("write");
        let a = InstallState::load_or_create(Some(dir.path()));
        assert_eq!(InstallState::load_or_create(Some(dir.path())), a);
    }

    #[test]
    fn unwritable_dir_falls_back_to_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a-file");
        fs::write(&file, "x").expect("write");
        let s = InstallState::load_or_create(Some(&file.join("sub")));
        assert!(s.path.is_none());
        assert_eq!(s.install_id.len(), 36);
    }
}
