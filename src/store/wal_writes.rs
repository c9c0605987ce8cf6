//! The SQLite writer's file system (VFS): the operating system's, except
//! that a commit's WAL frames reach the kernel in one `pwrite` rather than
//! two per page (a 24-byte frame header, then the page, each crossing into
//! the next page of the file cache). A commit of 30 pages was 60 system
//! calls, and those writes 9-10 % of the CPU in `churn`.
//!
//! What may wait, and until when: frames of the transaction being
//! committed, appended in order, until the commit frame. That frame is
//! written straight through after everything before it, so when SQLite
//! publishes the commit to readers (in shared memory, right after) and
//! answers `COMMIT`, every byte of it is in the kernel, as without this
//! layer: it survives `kill -9` the same. Any other access to the WAL (a
//! read, a write elsewhere, a sync, a truncation, its size, closing it)
//! first writes out what waits, so SQLite sees the file it wrote.
//!
//! The connection must not spill pages before its commit (`PRAGMA
//! cache_spill = OFF`, as the writer sets): a spilled transaction's frames
//! would wait here, and if it rolled back and another process then wrote
//! the WAL, they would be written out later over that process's frames.
//! With no spill every frame SQLite writes belongs to a commit under way,
//! and the commit frame ends the wait in the same call.

// The callbacks below are SQLite's file methods: their whole bodies work
// on the raw pointers SQLite passes, per its VFS contract.
#![allow(unsafe_op_in_unsafe_fn)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name connections open the database with.
pub const VFS: &str = "minilvb-wal";
const VFS_C: &CStr = c"minilvb-wal";

/// Waiting bytes are written out past this (a transaction far larger than
/// a batch of requests: an import, a migration).
const WAIT_AT_MOST: usize = 1 << 20;
/// The unix VFS writes at most 128 KiB - 1 bytes a call (it masks the
/// length to 17 bits).
const OS_WRITE_AT_MOST: usize = 124 << 10;
const FRAME_HEADER: c_int = 24;
const WAL_HEADER: c_int = 32;

/// Registers the VFS (once per process) and returns its name.
pub fn register() -> rusqlite::Result<&'static str> {
    static REGISTERED: OnceLock<Result<(), c_int>> = OnceLock::new();
    let registered = REGISTERED.get_or_init(|| unsafe {
        let rc = ffi::sqlite3_initialize();
        if rc != ffi::SQLITE_OK {
            return Err(rc);
        }
        let os = ffi::sqlite3_vfs_find(ptr::null());
        if os.is_null() {
            return Err(ffi::SQLITE_ERROR);
        }
        let _ = OS.set(OsVfs(os));
        // The OS's own, renamed, with room for our part of each file
        // before the OS's, and our open. Its other methods are the OS's:
        // they find what they need (`pAppData`) in the copy.
        let mut vfs: ffi::sqlite3_vfs = *os;
        vfs.pNext = ptr::null_mut();
        vfs.zName = VFS_C.as_ptr();
        vfs.szOsFile = (OS_FILE_AT + (*os).szOsFile as usize) as c_int;
        vfs.xOpen = Some(open);
        let rc = ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0);
        if rc != ffi::SQLITE_OK {
            return Err(rc);
        }
        Ok(())
    });
    match registered {
        Ok(()) => Ok(VFS),
        Err(rc) => Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(*rc),
            Some("registering the WAL write VFS".into()),
        )),
    }
}

struct OsVfs(*mut ffi::sqlite3_vfs);
// The OS's VFS is a static of SQLite's, never freed.
unsafe impl Send for OsVfs {}
unsafe impl Sync for OsVfs {}
static OS: OnceLock<OsVfs> = OnceLock::new();

/// A WAL file: ours, then the OS's at `OS_FILE_AT`.
#[repr(C)]
struct WalFile {
    /// First, as SQLite reads `pMethods` through the pointer it was given.
    base: ffi::sqlite3_file,
    os: *mut ffi::sqlite3_file,
    waiting: *mut Waiting,
}

const OS_FILE_AT: usize = std::mem::size_of::<WalFile>().next_multiple_of(16);

/// Bytes written to the WAL but not yet to the kernel: one contiguous run.
#[derive(Default)]
struct Waiting {
    at: i64,
    bytes: Vec<u8>,
    /// The last bytes taken were a frame's header: its page comes next.
    header_last: bool,
    /// Calls that reached the kernel's file (for tests).
    os_writes: u64,
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let os = OS.get().expect("registered before use").0;
    let os_open = (*os).xOpen.expect("an OS VFS opens files");
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // Every other file is the OS's, untouched (its methods, its
        // struct at the start of the room SQLite made).
        return os_open(vfs, name, file, flags, out_flags);
    }
    let os_file = file
        .cast::<u8>()
        .add(OS_FILE_AT)
        .cast::<ffi::sqlite3_file>();
    let rc = os_open(vfs, name, os_file, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        // SQLite closes nothing it was not given methods for.
        (*file).pMethods = ptr::null();
        return rc;
    }
    ptr::write(
        file.cast::<WalFile>(),
        WalFile {
            base: ffi::sqlite3_file {
                pMethods: &WAL_METHODS,
            },
            os: os_file,
            waiting: Box::into_raw(Box::default()),
        },
    );
    ffi::SQLITE_OK
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

unsafe fn parts<'a>(file: *mut ffi::sqlite3_file) -> (*mut ffi::sqlite3_file, &'a mut Waiting) {
    let file = &*file.cast::<WalFile>();
    (file.os, &mut *file.waiting)
}

unsafe fn os_methods(os: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    &*(*os).pMethods
}

/// Hands what waits to the kernel. It is dropped either way: on an error
/// SQLite fails the transaction, and writes its frames again.
unsafe fn write_out(os: *mut ffi::sqlite3_file, waiting: &mut Waiting) -> c_int {
    waiting.header_last = false;
    if waiting.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let write = os_methods(os).xWrite.expect("OS files write");
    let mut rc = ffi::SQLITE_OK;
    let mut at = waiting.at;
    for chunk in waiting.bytes.chunks(OS_WRITE_AT_MOST) {
        waiting.os_writes += 1;
        rc = write(os, chunk.as_ptr().cast(), chunk.len() as c_int, at);
        if rc != ffi::SQLITE_OK {
            break;
        }
        at += chunk.len() as i64;
    }
    waiting.bytes.clear();
    rc
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let (os, waiting) = parts(file);
    let bytes = std::slice::from_raw_parts(data.cast::<u8>(), amount as usize);
    let appends = waiting.bytes.is_empty() || offset == waiting.at + waiting.bytes.len() as i64;
    // A frame's header says in bytes 4-7 whether it commits (the database's
    // size after the commit) or not (0).
    let plain_header = amount == FRAME_HEADER && bytes[4..8] == [0; 4];
    let page = waiting.header_last && !waiting.bytes.is_empty();
    let wal_header = amount == WAL_HEADER && offset == 0;
    if !(appends && (plain_header || page || wal_header)) {
        // The commit frame, a frame written again, a checksum rewritten:
        // after what waits, and straight through.
        let rc = write_out(os, waiting);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        waiting.os_writes += 1;
        let write = os_methods(os).xWrite.expect("OS files write");
        return write(os, data, amount, offset);
    }
    if waiting.bytes.is_empty() {
        waiting.at = offset;
    }
    waiting.bytes.extend_from_slice(bytes);
    waiting.header_last = plain_header;
    if !plain_header && waiting.bytes.len() >= WAIT_AT_MOST {
        return write_out(os, waiting);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let (os, waiting) = parts(file);
    let written = write_out(os, waiting);
    let closed = os_methods(os).xClose.expect("OS files close")(os);
    drop(Box::from_raw((*file.cast::<WalFile>()).waiting));
    (*file).pMethods = ptr::null();
    if written != ffi::SQLITE_OK {
        return written;
    }
    closed
}

/// Writes out what waits, then calls the OS's method with the OS's file.
macro_rules! after_write_out {
    ($file:ident, $method:ident ( $($arg:expr),* )) => {{
        let (os, waiting) = parts($file);
        let rc = write_out(os, waiting);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        match os_methods(os).$method {
            Some(method) => method(os $(, $arg)*),
            None => ffi::SQLITE_IOERR,
        }
    }};
}

/// The OS's method with the OS's file: nothing here reads or writes data.
macro_rules! passed_on {
    ($file:ident, $method:ident ( $($arg:expr),* ), $absent:expr) => {{
        let (os, _) = parts($file);
        match os_methods(os).$method {
            Some(method) => method(os $(, $arg)*),
            None => $absent,
        }
    }};
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    data: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    after_write_out!(file, xRead(data, amount, offset))
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    after_write_out!(file, xTruncate(size))
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    after_write_out!(file, xSync(flags))
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_write_out!(file, xFileSize(size))
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    after_write_out!(file, xFileControl(op, arg))
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    *out = ptr::null_mut();
    after_write_out!(file, xFetch(offset, amount, out))
}

unsafe extern "C" fn unfetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    page: *mut c_void,
) -> c_int {
    passed_on!(file, xUnfetch(offset, page), ffi::SQLITE_OK)
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    passed_on!(file, xLock(level), ffi::SQLITE_OK)
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    passed_on!(file, xUnlock(level), ffi::SQLITE_OK)
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    passed_on!(file, xCheckReservedLock(out), ffi::SQLITE_OK)
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    passed_on!(file, xSectorSize(), 4096)
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    passed_on!(file, xDeviceCharacteristics(), 0)
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    passed_on!(file, xShmMap(region, size, extend, out), ffi::SQLITE_IOERR)
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    passed_on!(file, xShmLock(offset, n, flags), ffi::SQLITE_IOERR)
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    let (os, _) = parts(file);
    if let Some(barrier) = os_methods(os).xShmBarrier {
        barrier(os);
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    passed_on!(file, xShmUnmap(delete), ffi::SQLITE_OK)
}

/// How many writes of `conn`'s WAL reached the kernel, if it is open
/// through this VFS.
#[cfg(test)]
fn os_writes(conn: &rusqlite::Connection) -> Option<u64> {
    let mut wal: *mut ffi::sqlite3_file = ptr::null_mut();
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_JOURNAL_POINTER,
            (&mut wal as *mut *mut ffi::sqlite3_file).cast(),
        )
    };
    if rc != ffi::SQLITE_OK || wal.is_null() || unsafe { (*wal).pMethods } != &WAL_METHODS {
        return None;
    }
    Some(unsafe { parts(wal).1.os_writes })
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};

    use super::*;

    fn writer(path: &std::path::Path, cache_pages: i64) -> Connection {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags_and_vfs(path, flags, register().unwrap()).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        // Every frame stays in the WAL: what a copy recovers is the WAL.
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.pragma_update(None, "cache_size", cache_pages).unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)")
            .unwrap();
        conn
    }

    /// Rows and bytes in `t`, as `conn` sees them.
    fn contents(conn: &Connection) -> (i64, i64) {
        conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(length(v) + k), 0) FROM t",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
    }

    /// What a process started after `kill -9` of the writer would find:
    /// the files as the kernel has them, the WAL recovered from its own
    /// frames and checksums (no shared memory to trust).
    fn recovered(dir: &std::path::Path, path: &std::path::Path) -> (i64, i64) {
        let copy = dir.join(format!("copy-{}.db", rand::random::<u32>()));
        std::fs::copy(path, &copy).unwrap();
        let mut wal = copy.clone().into_os_string();
        wal.push("-wal");
        let mut source = path.to_path_buf().into_os_string();
        source.push("-wal");
        std::fs::copy(source, wal).unwrap();
        let conn = Connection::open(&copy).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        contents(&conn)
    }

    #[test]
    fn a_commit_reaches_the_kernel_in_three_writes_and_readers_see_it_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = writer(&path, 2000);
        let reader = Connection::open(&path).unwrap();
        let mut expected = (0, 0);
        for round in 0..100i64 {
            let before = os_writes(&conn).expect("the WAL is ours");
            let tx = conn.unchecked_transaction().unwrap();
            for i in 0..5 {
                // Keys far apart: each row on a page of its own.
                let k = i * 1_000_000 + round;
                let v = vec![round as u8; 700];
                tx.execute("INSERT INTO t VALUES (?, ?)", (k, v)).unwrap();
                expected = (expected.0 + 1, expected.1 + 700 + k);
            }
            tx.commit().unwrap();
            let writes = os_writes(&conn).unwrap() - before;
            // What waited (under 30 pages: one write of at most 124 KiB), then
            // the commit frame's header and page.
            assert!(writes <= 3, "round {round}: {writes} writes");
            assert_eq!(contents(&reader), expected, "round {round}");
        }
        assert_eq!(recovered(dir.path(), &path), expected);
    }

    /// Transactions larger than the page cache write frames before they
    /// commit, write some again, and rewrite checksums; one larger than
    /// what may wait; one rolled back. Every commit is whole to a reader
    /// at once and after a crash, and nothing rolled back appears. (The
    /// writer does not spill, see the module; on one connection spills
    /// are still right, and this covers the paths they take.)
    #[test]
    fn spilled_rewritten_and_rolled_back_frames_stay_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = writer(&path, 10);
        let reader = Connection::open(&path).unwrap();
        let mut expected = (0, 0);
        for round in 0..12i64 {
            let rows = if round == 5 { 3_000 } else { 400 };
            let tx = conn.unchecked_transaction().unwrap();
            for i in 0..rows {
                let k = round * 10_000 + i;
                tx.execute("INSERT INTO t VALUES (?, ?)", (k, vec![1u8; 600]))
                    .unwrap();
            }
            // Pages already spilled into the WAL, written again.
            tx.execute(
                "UPDATE t SET v = zeroblob(500) WHERE k >= ? AND k % 3 = 0",
                [round * 10_000],
            )
            .unwrap();
            let (n, bytes): (i64, i64) = tx
                .query_row(
                    "SELECT COUNT(*), SUM(length(v) + k) FROM t WHERE k >= ?",
                    [round * 10_000],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .unwrap();
            if round % 4 == 3 {
                tx.rollback().unwrap();
            } else {
                tx.commit().unwrap();
                expected = (expected.0 + n, expected.1 + bytes);
            }
            assert_eq!(contents(&reader), expected, "round {round}");
            assert_eq!(recovered(dir.path(), &path), expected, "round {round}");
        }
    }

    /// Two writers of one database (the server and an operator command),
    /// set as the writer is: one rolls back a transaction larger than its
    /// cache, the other then commits over the same part of the WAL, the
    /// first commits again. Every commit stays whole, to a reader and
    /// after a crash.
    #[test]
    fn a_rolled_back_transaction_leaves_nothing_for_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.db");
        let first = writer(&path, 10);
        first.pragma_update(None, "cache_spill", false).unwrap();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE;
        let second = Connection::open_with_flags_and_vfs(&path, flags, VFS).unwrap();
        second.pragma_update(None, "cache_spill", false).unwrap();
        second.pragma_update(None, "cache_size", 10).unwrap();
        // Larger than the first's cache: with spills, some of its pages
        // would be written (and held back) before the rollback.
        let tx = first.unchecked_transaction().unwrap();
        for k in 0..200 {
            tx.execute("INSERT INTO t VALUES (?, ?)", (k, vec![7u8; 300]))
                .unwrap();
        }
        tx.rollback().unwrap();
        // More frames than those, from the start of the WAL's free part.
        let tx = second.unchecked_transaction().unwrap();
        for k in 1_000..3_000 {
            tx.execute("INSERT INTO t VALUES (?, ?)", (k, vec![1u8; 300]))
                .unwrap();
        }
        tx.commit().unwrap();
        first
            .execute("INSERT INTO t VALUES (1, zeroblob(200))", [])
            .unwrap();
        let expected = (
            2_001,
            (1_000..3_000).map(|k| k + 300).sum::<i64>() + 1 + 200,
        );
        assert_eq!(contents(&Connection::open(&path).unwrap()), expected);
        assert_eq!(recovered(dir.path(), &path), expected);
    }

    /// Files other than the WAL are the OS's own.
    #[test]
    fn only_the_wal_is_wrapped() {
        let dir = tempfile::tempdir().unwrap();
        let conn = writer(&dir.path().join("o.db"), 100);
        assert!(os_writes(&conn).is_some());
        let plain = Connection::open(dir.path().join("p.db")).unwrap();
        plain.pragma_update(None, "journal_mode", "WAL").unwrap();
        plain.execute_batch("CREATE TABLE t (k)").unwrap();
        assert_eq!(os_writes(&plain), None);
        assert_eq!(VFS_C.to_str().unwrap(), VFS);
    }
}
