//! Start-up integrity of the SQLite files. [`check_files`] runs before SQLite opens
//! anything, because opening replays the write-ahead log and the last connection to
//! close deletes it: damage found later would have erased its own evidence. It refuses
//! a database file that lacks the SQLite header, an empty database file beside other
//! files, a log without its database, and a log with committed transactions after a
//! frame whose checksum fails (SQLite stops replaying at such a frame and drops every
//! transaction after it without a word). [`quick_check`] then runs `PRAGMA quick_check`
//! on the open database. Each refusal is [`StoreError::Damaged`], naming the file and
//! the way to recover (the README's "Damaged SQLite database").
//!
//! The log's format is SQLite's (<https://www.sqlite.org/fileformat2.html#walformat>):
//! a 32-byte header (magic `0x377f0682` or `0x377f0683`, whose low bit gives the byte
//! order of the checksums, version 3007000, page size, checkpoint number, two salts, a
//! checksum of the first 24 bytes), then frames of a 24-byte header (page number,
//! database size after a commit or 0, the two salts, a running checksum over every
//! earlier frame, this header's first 8 bytes and the page) and one page.

use crate::store::StoreError;
use rusqlite::{Connection, ErrorCode};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the recovery steps are written down; the end of every refusal.
const SEE: &str = "Nothing was changed; see \"Damaged SQLite database\" in the README.";
/// The first 16 bytes of every SQLite database file.
const DB_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The log header's magic, without its byte-order bit.
const WAL_MAGIC: u32 = 0x377f_0682;
/// The only log format version.
const WAL_VERSION: u32 = 3_007_000;
const WAL_HEADER: usize = 32;
const FRAME_HEADER: usize = 24;

/// The write-ahead log beside the database file `db`.
fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn damaged(path: &Path, detail: String) -> StoreError {
    StoreError::Damaged {
        path: path.display().to_string(),
        detail: format!("{detail} {SEE}"),
    }
}

fn io_error(path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The size of `path`, `None` when it does not exist.
fn size(path: &Path) -> Result<Option<u64>, StoreError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Checks the database file `db` and its log before SQLite opens them (see the module
/// docs). A missing database with no log, or an empty one alone in its directory, is a
/// new store.
pub(super) fn check_files(db: &Path) -> Result<(), StoreError> {
    let wal = wal_path(db);
    let wal_size = size(&wal)?;
    match size(db)? {
        None => {
            if wal_size.is_some_and(|n| n > 0) {
                return Err(damaged(
                    &wal,
                    format!(
                        "its database file {} is missing, so SQLite would replay this log \
                         onto an empty database. Restore the database file from a backup, \
                         or move the data directory away to start with an empty store.",
                        db.display()
                    ),
                ));
            }
            return Ok(());
        }
        Some(0) => {
            let others = other_entries(db)?;
            if others.is_empty() {
                return Ok(());
            }
            return Err(damaged(
                db,
                format!(
                    "the database file is empty (0 bytes) while its directory holds {}: it \
                     was truncated or replaced, and SQLite would start an empty store over \
                     it. Restore it from a backup, or move the data directory away to \
                     start with an empty store.",
                    others.join(", ")
                ),
            ));
        }
        Some(_) => {
            let mut head = [0u8; 16];
            let file = File::open(db).map_err(|e| io_error(db, e))?;
            let got =
                read_full(&mut BufReader::new(file), &mut head).map_err(|e| io_error(db, e))?;
            if got < head.len() || &head != DB_MAGIC {
                return Err(damaged(
                    db,
                    "the file does not start with the SQLite header, so it is not (or no \
                     longer) a database. Restore it from a backup, or move the data \
                     directory away to start with an empty store."
                        .into(),
                ));
            }
        }
    }
    if wal_size.is_some_and(|n| n > 0) {
        check_wal(db, &wal)?;
    }
    Ok(())
}

/// The other entries of the directory of `db`, but for its rollback journal (left
/// beside an empty file only by the very first write, interrupted).
fn other_entries(db: &Path) -> Result<Vec<String>, StoreError> {
    let dir = match db.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let own = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let journal = format!("{own}-journal");
    let mut others = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let name = entry
            .map_err(|e| io_error(dir, e))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name != own && name != journal {
            others.push(name);
        }
    }
    others.sort();
    Ok(others)
}

/// Refuses the log `wal` of `db` if SQLite would drop committed transactions from it.
/// A process writing the store meanwhile (a command reading it while the server runs)
/// can be caught in the middle of a write; damage stays, such a read does not, so a
/// finding counts only if a second read a moment later makes it again.
fn check_wal(db: &Path, wal: &Path) -> Result<(), StoreError> {
    if scan_wal_file(wal)?.is_none() {
        return Ok(());
    }
    std::thread::sleep(Duration::from_millis(100));
    let Some(why) = scan_wal_file(wal)? else {
        return Ok(());
    };
    Err(damaged(
        wal,
        format!(
            "{why}. Stop every process using the data directory and copy it somewhere \
             safe; then `sqlite3 {} \"PRAGMA wal_checkpoint(TRUNCATE)\"` keeps every \
             transaction before the damage (the ones after it are lost), or restore the \
             directory from a backup.",
            db.display()
        ),
    ))
}

fn scan_wal_file(wal: &Path) -> Result<Option<String>, StoreError> {
    let file = match File::open(wal) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(wal, e)),
    };
    scan_wal(BufReader::with_capacity(1 << 16, file)).map_err(|e| io_error(wal, e))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// SQLite's log checksum of `data` (a multiple of 8 bytes) from `seed`: two running
/// sums over pairs of 32-bit words, read in the byte order the log's magic gives.
fn checksum(big_endian: bool, data: &[u8], seed: (u32, u32)) -> (u32, u32) {
    let (mut s1, mut s2) = seed;
    for pair in data.chunks_exact(8) {
        let (x, y) = if big_endian {
            (be32(&pair[..4]), be32(&pair[4..]))
        } else {
            (
                u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]),
                u32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]),
            )
        };
        s1 = s1.wrapping_add(x).wrapping_add(s2);
        s2 = s2.wrapping_add(y).wrapping_add(s1);
    }
    (s1, s2)
}

/// The checksum a frame should carry, from the one before it.
fn frame_checksum(big_endian: bool, frame: &[u8], seed: (u32, u32)) -> (u32, u32) {
    let seed = checksum(big_endian, &frame[..8], seed);
    checksum(big_endian, &frame[FRAME_HEADER..], seed)
}

/// Reads until `buf` is full or the input ends; how many bytes it got.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Why SQLite would drop committed transactions from the log `r`, or `None` when it
/// would replay all of them.
///
/// SQLite replays frames up to the first one that fails (salts other than the header's,
/// page 0, or a checksum that does not follow), and keeps what the last commit frame
/// before it covers. Frames past that point are normally harmless: older frames left
/// by an earlier use of the file (other salts: the first salt grows at each reuse) or
/// the torn tail of a transaction that never committed. But a commit frame of this
/// use of the file, intact against the checksum of the frame before it, that lies
/// past the failing frame is a transaction that was committed (and acknowledged) and
/// that SQLite would silently drop: the failing frame is damage.
fn scan_wal(mut r: impl Read) -> io::Result<Option<String>> {
    let mut header = [0u8; WAL_HEADER];
    if read_full(&mut r, &mut header)? < WAL_HEADER {
        return Ok(None);
    }
    let magic = be32(&header[0..4]);
    let big_endian = (magic & 1) == 1;
    let page_size = be32(&header[8..12]) as usize;
    let header_sum = (be32(&header[24..28]), be32(&header[28..32]));
    let readable = (magic & !1) == WAL_MAGIC
        && be32(&header[4..8]) == WAL_VERSION
        && page_size.is_power_of_two()
        && (512..=65_536).contains(&page_size)
        && checksum(big_endian, &header[..24], (0, 0)) == header_sum;
    if !readable {
        // Nothing is replayed from a log whose header is unreadable; it only matters
        // when frames follow it.
        let mut frame = [0u8; FRAME_HEADER + 512];
        return Ok((read_full(&mut r, &mut frame)? == frame.len()).then(|| {
            "the header of the write-ahead log is unreadable, so SQLite would silently \
             ignore every transaction in it"
                .to_string()
        }));
    }
    let salts = [
        header[16], header[17], header[18], header[19], header[20], header[21], header[22],
        header[23],
    ];
    let mut frame = vec![0u8; FRAME_HEADER + page_size];
    let mut running = header_sum;
    let mut previous = header_sum;
    let mut frames: u64 = 0;
    let mut failed_at: Option<u64> = None;
    let mut dropped_commits: u64 = 0;
    while read_full(&mut r, &mut frame)? == frame.len() {
        frames += 1;
        let stored = (be32(&frame[16..20]), be32(&frame[20..24]));
        let ours = frame[8..16] == salts && be32(&frame[0..4]) != 0;
        match failed_at {
            None => {
                let sum = frame_checksum(big_endian, &frame, running);
                if ours && sum == stored {
                    running = sum;
                } else {
                    failed_at = Some(frames);
                }
            }
            Some(_) => {
                let commit = be32(&frame[4..8]) != 0;
                if ours && commit && frame_checksum(big_endian, &frame, previous) == stored {
                    dropped_commits += 1;
                }
            }
        }
        previous = stored;
    }
    Ok(match failed_at {
        Some(at) if dropped_commits > 0 => Some(format!(
            "frame {at} of the {frames} in the write-ahead log fails its checksum, and \
             SQLite would silently drop the {dropped_commits} committed transaction(s) \
             after it"
        )),
        _ => None,
    })
}

/// Runs `PRAGMA quick_check` on the database `conn` has open at `path`.
pub(super) fn quick_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = match quick_check_rows(conn) {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => return Ok(()),
        Ok(rows) => rows.join("; ").replace('\n', " "),
        Err(rusqlite::Error::SqliteFailure(e, message))
            if matches!(e.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            message.unwrap_or_else(|| e.to_string())
        }
        Err(e) => return Err(e.into()),
    };
    Err(damaged(
        path,
        format!(
            "PRAGMA quick_check reports: {found}. Stop every process using the data \
             directory and copy it somewhere safe; then `sqlite3 {} \".recover\" | \
             sqlite3 recovered.sqlite3` salvages what can still be read (put \
             recovered.sqlite3 in its place and remove the -wal and -shm files beside \
             it), or restore the directory from a backup.",
            path.display()
        ),
    ))
}

fn quick_check_rows(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("PRAGMA quick_check(10)")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 512;

    /// A log as SQLite writes it: `frames` of (page number, commit?, fill byte), with
    /// `salts`, checksums in little-endian order.
    fn wal(salts: [u8; 8], frames: &[(u32, bool, u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&WAL_MAGIC.to_be_bytes());
        out.extend_from_slice(&WAL_VERSION.to_be_bytes());
        out.extend_from_slice(&(PAGE as u32).to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&salts);
        let mut sum = checksum(false, &out, (0, 0));
        out.extend_from_slice(&sum.0.to_be_bytes());
        out.extend_from_slice(&sum.1.to_be_bytes());
        for (i, &(page, commit, fill)) in frames.iter().enumerate() {
            let mut frame = Vec::new();
            frame.extend_from_slice(&page.to_be_bytes());
            frame.extend_from_slice(&(if commit { i as u32 + 1 } else { 0 }).to_be_bytes());
            frame.extend_from_slice(&salts);
            frame.extend_from_slice(&[0; 8]);
            frame.resize(FRAME_HEADER + PAGE, fill);
            sum = frame_checksum(false, &frame, sum);
            frame[16..20].copy_from_slice(&sum.0.to_be_bytes());
            frame[20..24].copy_from_slice(&sum.1.to_be_bytes());
            out.extend_from_slice(&frame);
        }
        out
    }

    fn frame_at(i: usize) -> usize {
        WAL_HEADER + i * (FRAME_HEADER + PAGE)
    }

    const SALTS: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    const FIVE: [(u32, bool, u8); 5] = [
        (2, false, 1),
        (3, true, 2),
        (2, false, 3),
        (4, true, 4),
        (5, true, 5),
    ];

    #[test]
    fn an_intact_log_and_an_empty_one_pass() {
        assert_eq!(scan_wal(&wal(SALTS, &FIVE)[..]).expect("read"), None);
        assert_eq!(scan_wal(&b""[..]).expect("read"), None);
        assert_eq!(scan_wal(&wal(SALTS, &[])[..]).expect("read"), None);
    }

    #[test]
    fn a_damaged_frame_before_commits_is_found() {
        let mut log = wal(SALTS, &FIVE);
        log[frame_at(2) + FRAME_HEADER + 100] ^= 0xff;
        let why = scan_wal(&log[..]).expect("read").expect("damage found");
        assert!(why.contains("frame 3 of the 5"), "{why}");
        assert!(why.contains("2 committed"), "{why}");
        // A damaged salt, too.
        let mut log = wal(SALTS, &FIVE);
        log[frame_at(1) + 9] ^= 0x01;
        let why = scan_wal(&log[..]).expect("read").expect("damage found");
        assert!(why.contains("frame 2 of the 5"), "{why}");
    }

    #[test]
    fn a_torn_last_transaction_and_older_frames_are_not_damage() {
        // The last frame, a commit, torn: that transaction never completed.
        let mut log = wal(SALTS, &FIVE);
        log[frame_at(4) + FRAME_HEADER + 7] ^= 0xff;
        assert_eq!(scan_wal(&log[..]).expect("read"), None);
        // A reused log: two frames of this use, then three of the one before.
        let mut log = wal(SALTS, &FIVE[..2]);
        let older = wal([0, 2, 3, 4, 9, 9, 9, 9], &FIVE);
        log.extend_from_slice(&older[frame_at(2)..]);
        assert_eq!(scan_wal(&log[..]).expect("read"), None);
        // A trailing partial frame.
        let mut log = wal(SALTS, &FIVE);
        log.extend_from_slice(&[7; 100]);
        assert_eq!(scan_wal(&log[..]).expect("read"), None);
    }

    #[test]
    fn an_unreadable_header_before_frames_is_found() {
        let mut log = wal(SALTS, &FIVE);
        log[17] ^= 0xff;
        let why = scan_wal(&log[..]).expect("read").expect("damage found");
        assert!(why.contains("header"), "{why}");
        // A header alone, unreadable or not, holds nothing.
        assert_eq!(scan_wal(&log[..WAL_HEADER]).expect("read"), None);
    }
}
