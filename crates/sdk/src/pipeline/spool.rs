//! The spool: a directory where batches that could not be delivered wait on disk
//! until the endpoint is back. Bounded in bytes; the oldest batches go first.
//!
//! Each batch is one file, `<unix-nanos>-<pid>-<seq>.otlp`, written to a temporary
//! name and renamed into place (a reader never sees half a file). A sender claims a
//! file by renaming it to `*.sending`, so processes sharing a directory never send
//! the same batch twice; a claim left by a crashed process is released after
//! [`STALE_CLAIM`].

use automagik_telemetry_core::{Signal, SignalRequest};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MAGIC: &[u8; 8] = b"ATSPOOL1";
const EXT: &str = "otlp";
const CLAIM_EXT: &str = "sending";
/// A claim older than this belonged to a process that died mid-send.
pub const STALE_CLAIM: Duration = Duration::from_secs(600);

/// A spooled batch, claimed for sending.
#[derive(Debug)]
pub struct Claimed {
    claimed_path: PathBuf,
    original_path: PathBuf,
    /// The request to send.
    pub request: SignalRequest,
    /// Items inside, for accounting.
    pub items: u64,
}

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    seq: u64,
}

fn signal_byte(s: Signal) -> u8 {
    match s {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

impl Spool {
    /// Opens (creating) the directory and releases stale claims.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            seq: 0,
        };
        for entry in fs::read_dir(dir)?.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == CLAIM_EXT) {
                let age = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .unwrap_or_default();
                if age >= STALE_CLAIM {
                    let _ = fs::rename(&path, original_of(&path));
                }
            }
        }
        Ok(spool)
    }

    /// Writes a batch. Returns the items of older batches dropped to stay under the bound.
    pub fn write(&mut self, request: &SignalRequest) -> io::Result<u64> {
        let body = request.encode_protobuf();
        let items = request.item_count() as u64;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        self.seq += 1;
        let name = format!(
            "{nanos:020}-{:010}-{:08}.{EXT}",
            std::process::id(),
            self.seq
        );
        let tmp = self.dir.join(format!(".{name}.tmp"));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&[signal_byte(request.signal())])?;
            f.write_all(&items.to_le_bytes())?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join(&name))?;
        self.enforce_bound(&name)
    }

    fn pending_files(&self) -> io::Result<Vec<(PathBuf, u64)>> {
        let mut files: Vec<(PathBuf, u64)> = fs::read_dir(&self.dir)?
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == EXT))
            .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
            .collect();
        files.sort();
        Ok(files)
    }

    fn enforce_bound(&self, keep: &str) -> io::Result<u64> {
        let files = self.pending_files()?;
        let mut total: u64 = files.iter().map(|(_, len)| len).sum();
        let mut dropped = 0;
        for (path, len) in files {
            if total <= self.max_bytes {
                break;
            }
            if path.file_name().is_some_and(|n| n == keep) {
                continue;
            }
            if let Ok(Some((_, items))) = read_header(&path) {
                dropped += items;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        Ok(dropped)
    }

    /// Claims the oldest batch, if any. Unreadable files are moved aside as `*.bad`.
    pub fn claim_oldest(&mut self) -> io::Result<Option<Claimed>> {
        for (path, _) in self.pending_files()? {
            let claimed = path.with_extension(format!("{EXT}.{}.{CLAIM_EXT}", std::process::id()));
            if fs::rename(&path, &claimed).is_err() {
                continue; // another process took it
            }
            match read_batch(&claimed) {
                Ok(Some((request, items))) => {
                    return Ok(Some(Claimed {
                        claimed_path: claimed,
                        original_path: path,
                        request,
                        items,
                    }));
                }
                _ => {
                    tracing::warn!(target: "automagik_telemetry", file = %path.display(), "unreadable spool file moved aside");
                    let _ = fs::rename(&claimed, path.with_extension("bad"));
                }
            }
        }
        Ok(None)
    }

    /// The batch was delivered (or refused for good): forget it.
    pub fn complete(&mut self, claimed: Claimed) {
        let _ = fs::remove_file(&claimed.claimed_path);
    }

    /// The batch could not be sent now: put it back, keeping its place in line.
    pub fn release(&mut self, claimed: Claimed) {
        let _ = fs::rename(&claimed.claimed_path, &claimed.original_path);
    }

    /// Whether any batch waits.
    pub fn is_empty(&self) -> bool {
        self.pending_files().map(|f| f.is_empty()).unwrap_or(true)
    }
}

fn original_of(claimed: &Path) -> PathBuf {
    // x.otlp.<pid>.sending -> x.otlp
    let name = claimed
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let base = name.split(&format!(".{EXT}.")).next().unwrap_or(name);
    claimed.with_file_name(format!("{base}.{EXT}"))
}

fn read_header(path: &Path) -> io::Result<Option<(Signal, u64)>> {
    use std::io::Read;
    let mut head = [0u8; 17];
    let mut f = fs::File::open(path)?;
    if f.read_exact(&mut head).is_err() || &head[..8] != MAGIC {
        return Ok(None);
    }
    let signal = match head[8] {
        0 => Signal::Traces,
        1 => Signal::Metrics,
        2 => Signal::Logs,
        _ => return Ok(None),
    };
    let mut n = [0u8; 8];
    n.copy_from_slice(&head[9..17]);
    Ok(Some((signal, u64::from_le_bytes(n))))
}

fn read_batch(path: &Path) -> io::Result<Option<(SignalRequest, u64)>> {
    let Some((signal, items)) = read_header(path)? else {
        return Ok(None);
    };
    let bytes = fs::read(path)?;
    Ok(SignalRequest::decode_protobuf(signal, &bytes[17..])
        .ok()
        .map(|r| (r, items)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use automagik_telemetry_core::otlp::{DEFAULT_HISTOGRAM_BOUNDS, to_requests};
    use automagik_telemetry_core::{EncodedLog, KeyValue, LogRecord, Origin, Record, Severity};
    use std::borrow::Cow;

    fn request(n: usize, body: &str) -> SignalRequest {
        let origin = Origin::new(&[KeyValue::new("service.name", "t")], "s", "1");
        let records: Vec<Record> = (0..n)
            .map(|i| {
                Record::Log(EncodedLog::new(&LogRecord {
                    time_unix_nano: i as u64,
                    severity: Severity::Info,
                    body: Some(Cow::Owned(body.to_string())),
                    event_name: None,
                    attributes: vec![],
                    dropped_attributes_count: 0,
                    trace: None,
                }))
            })
            .collect();
        to_requests(&origin, records, DEFAULT_HISTOGRAM_BOUNDS).remove(0)
    }

    #[test]
    fn fifo_round_trip_and_claims() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(dir.path(), 1 << 20).expect("open");
        assert!(spool.is_empty());
        let (a, b) = (request(2, "first"), request(3, "second"));
        assert_eq!(spool.write(&a).expect("write"), 0);
        assert_eq!(spool.write(&b).expect("write"), 0);

        let first = spool.claim_oldest().expect("io").expect("a batch");
        assert_eq!(
            (first.request.clone(), first.items),
            (a.decoded().into_owned(), 2)
        );
        // A claimed batch is invisible to other senders.
        let second = spool.claim_oldest().expect("io").expect("b batch");
        assert_eq!(second.items, 3);
        assert!(spool.claim_oldest().expect("io").is_none());
        spool.release(second);
        spool.complete(first);
        let again = spool.claim_oldest().expect("io").expect("b again");
        assert_eq!(again.request, b.decoded().into_owned());
        spool.complete(again);
        assert!(spool.is_empty());
    }

    #[test]
    fn bounded_oldest_dropped_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = request(1, &"x".repeat(1000)).encode_protobuf().len() as u64 + 17;
        let mut spool = Spool::open(dir.path(), one * 2).expect("open");
        assert_eq!(spool.write(&request(1, &"a".repeat(1000))).expect("w"), 0);
        assert_eq!(spool.write(&request(1, &"b".repeat(1000))).expect("w"), 0);
        assert_eq!(
            spool.write(&request(1, &"c".repeat(1000))).expect("w"),
            1,
            "the oldest is dropped"
        );
        let kept = spool.claim_oldest().expect("io").expect("batch");
        let SignalRequest::Logs(l) = kept.request.decoded().into_owned() else {
            panic!("logs")
        };
        let body = l.resource_logs[0].scope_logs[0].log_records[0].body.clone();
        assert!(format!("{body:?}").contains("bbbb"));
    }

    #[test]
    fn stale_claims_are_released_and_garbage_moved_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spool = Spool::open(dir.path(), 1 << 20).expect("open");
        spool.write(&request(1, "x")).expect("write");
        let claimed = spool.claim_oldest().expect("io").expect("batch");
        let old = SystemTime::now() - STALE_CLAIM - Duration::from_secs(1);
        fs::File::options()
            .write(true)
            .open(&claimed.claimed_path)
            .and_then(|f| f.set_modified(old))
            .expect("age the claim");
        std::mem::forget(claimed);
        fs::write(dir.path().join("00000000000000000001-1-1.otlp"), b"garbage").expect("write");
        let mut reopened = Spool::open(dir.path(), 1 << 20).expect("reopen");
        let back = reopened
            .claim_oldest()
            .expect("io")
            .expect("released claim");
        assert_eq!(back.items, 1);
        assert!(dir.path().join("00000000000000000001-1-1.bad").exists());
    }
}
