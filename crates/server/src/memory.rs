//! Where the server's memory is, read at each scrape of `/metrics`: the resident set
//! (`VmRSS` of `/proc/self/status`), SQLite's own heap (its page caches, schemas and
//! prepared statements, for every connection of the process) and, with glibc, what the
//! allocator has handed out and what it holds free. SQLite allocates through the same
//! allocator, so its heap is a part of the allocator's bytes in use; resident memory
//! minus in use and free is code, stacks and free memory not touched yet.

/// One reading; a part the platform cannot tell is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Resident set size in bytes.
    pub resident: Option<u64>,
    /// Bytes SQLite has allocated and not freed.
    pub sqlite_in_use: u64,
    /// The most SQLite has held at once since the process started.
    pub sqlite_peak: u64,
    /// Bytes the allocator has handed out and not had back (glibc's `mallinfo2`).
    pub heap_in_use: Option<u64>,
    /// Bytes the allocator holds free inside its heaps, counted in the resident set
    /// where touched.
    pub heap_free: Option<u64>,
}

/// Reads every part now.
pub fn read() -> Reading {
    let (sqlite_in_use, sqlite_peak) = sqlite();
    let (heap_in_use, heap_free) = heap().unzip();
    Reading {
        resident: resident(),
        sqlite_in_use,
        sqlite_peak,
        heap_in_use,
        heap_free,
    }
}

/// The resident set: `VmRSS` of `/proc/self/status`, in KiB there.
fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib.saturating_mul(1024))
}

/// SQLite's heap now and at its highest, for the whole process.
#[allow(unsafe_code)]
fn sqlite() -> (u64, u64) {
    // SAFETY: both read SQLite's global memory counters; they take SQLite's own mutex and
    // are safe to call from any thread at any time (a reset flag of 0 changes nothing).
    let (used, peak) = unsafe {
        (
            rusqlite::ffi::sqlite3_memory_used(),
            rusqlite::ffi::sqlite3_memory_highwater(0),
        )
    };
    (
        u64::try_from(used).unwrap_or(0),
        u64::try_from(peak).unwrap_or(0),
    )
}

/// The allocator's bytes in use and held free, with glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn heap() -> Option<(u64, u64)> {
    // SAFETY: mallinfo2 (glibc 2.33 and later) only reads the allocator's statistics,
    // under its arenas' locks; it returns a plain struct.
    let info = unsafe { libc::mallinfo2() };
    // Handed out: from the heaps (`uordblks`) and as whole mappings (`hblkhd`).
    let in_use = (info.uordblks as u64).saturating_add(info.hblkhd as u64);
    Some((in_use, info.fordblks as u64))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap() -> Option<(u64, u64)> {
    None
}

/// Gives the allocator's whole free pages back to the system, with glibc (`malloc_trim`):
/// memory freed after a large transient allocation (a big query result, a big request)
/// otherwise stays resident in whichever of the allocator's per-thread arenas served it,
/// and the resident set creeps up as each arena meets its own peak. The free chunks stay
/// the allocator's (`heap_free` does not fall), only their pages leave the resident set.
/// Returns whether any memory was given back; `false` without glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free() -> bool {
    // SAFETY: malloc_trim takes each arena's lock in turn and advises the kernel that the
    // pages of free chunks are not needed; it may be called from any thread at any time
    // and leaves every allocation in place.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Gives the allocator's free pages back: nothing to do without glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_reading_sees_sqlite_and_the_heap_grow() {
        let before = super::read();
        let conn = rusqlite::Connection::open_in_memory().expect("an in-memory database");
        conn.execute_batch(
            "CREATE TABLE t (v TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL \
             SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO t SELECT hex(randomblob(64)) FROM n;",
        )
        .expect("rows written");
        let held: Vec<u8> = vec![1; 8 << 20];
        let after = super::read();
        // Other tests of this process open connections of their own at the same time,
        // so only this connection's growth is certain: a page cache of 2 MB at most,
        // well above a megabyte for 20,000 rows of 128 characters.
        assert!(after.sqlite_peak >= after.sqlite_in_use.min(before.sqlite_peak));
        assert!(after.sqlite_peak >= 1 << 20, "{after:?}");
        if cfg!(target_os = "linux") {
            assert!(
                after.resident.expect("a resident set on Linux") > held.len() as u64,
                "{after:?}"
            );
        }
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(
                after.heap_in_use.expect("mallinfo2 with glibc") >= held.len() as u64,
                "{after:?}"
            );
        }
        assert_eq!(held.iter().map(|b| u64::from(*b)).sum::<u64>(), 8 << 20);
        drop(conn);
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn freed_memory_leaves_the_resident_set() {
        // Many small blocks (below the threshold at which glibc maps a block of its own)
        // come from the heap; once freed, they stay resident until given back. The
        // blocks are touched so that their pages are resident to begin with.
        let mut blocks: Vec<Vec<u8>> = (0..4096).map(|i| vec![i as u8; 16 << 10]).collect();
        let keep = blocks.split_off(4095);
        let full = super::read().resident.expect("a resident set");
        drop(blocks);
        super::release_free();
        let after = super::read().resident.expect("a resident set");
        // 64 MiB were freed; other tests of this process run at the same time, so
        // only most of it is certain to have left.
        assert!(
            after + (32 << 20) < full,
            "resident {full} before and {after} after giving back 64 MiB"
        );
        assert_eq!(keep[0][0], 4095u16 as u8);
    }
}
