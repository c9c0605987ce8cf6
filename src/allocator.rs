//! The allocator: jemalloc, whose per-thread caches serve the many small
//! allocations of a request without a lock. glibc's malloc took an arena
//! lock for every buffer over 1 KiB (hyper's reads, replies, list rows):
//! with two arenas the `list` benchmark spent a quarter of its CPU in
//! malloc and in the futex wake-ups of that lock; with glibc's default (up
//! to 8 arenas a core) each thread keeps what it freed, and `churn` was
//! resident at 113 MiB instead of 74. jemalloc with two arenas does both.

use std::ffi::c_char;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts (`_RJEM_MALLOC_CONF` in the
/// environment still overrides them).
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_CONF: Conf = Conf(c"narenas:2".as_ptr());

/// A C string jemalloc reads; it is never written.
#[repr(transparent)]
struct Conf(*const c_char);

// SAFETY: points at a static, immutable C string.
unsafe impl Sync for Conf {}

/// Hands the memory freed so far back to the system (jemalloc keeps freed
/// pages for a while), so that what follows is measured without it: the
/// load generator calls it after seeding.
pub fn release_freed_memory() -> bool {
    // 4096 is MALLCTL_ARENAS_ALL: every arena.
    // SAFETY: a purge command takes and returns no value.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    rc == 0
}

#[cfg(test)]
mod tests {
    /// The arenas jemalloc runs with.
    fn arenas() -> u32 {
        let mut value: u32 = 0;
        let mut size = std::mem::size_of::<u32>();
        // SAFETY: `opt.narenas` is an unsigned, read into a u32 of its size.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                c"opt.narenas".as_ptr(),
                (&raw mut value).cast(),
                &mut size,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(rc, 0, "mallctl opt.narenas");
        value
    }

    #[test]
    fn jemalloc_runs_with_our_settings() {
        let _ = Box::new([0u8; 4096]);
        if std::env::var_os("_RJEM_MALLOC_CONF").is_none() {
            assert_eq!(arenas(), 2);
        }
        assert!(super::release_freed_memory());
    }
}
