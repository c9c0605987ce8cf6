//! The allocator: jemalloc, whose per-thread caches serve the many small
//! allocations of a request without a lock. glibc's malloc took an arena
//! lock for every buffer over 1 KiB (hyper's reads, replies, list rows):
//! with two arenas the `list` benchmark spent a quarter of its CPU in
//! malloc and in the futex wake-ups of that lock; with glibc's default (up
//! to 8 arenas a core) each thread keeps what it freed, and `churn` was
//! resident at 113 MiB instead of 74. jemalloc with two arenas does both.
//! Freed pages go back to the system after a second rather than ten: a
//! load that reads whole lists again and again (the list order on
//! PostgreSQL, every interval) kept ten seconds of them resident (95 MiB in
//! `list`, against 79 with one second, at the same throughput).

use std::ffi::c_char;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts (`_RJEM_MALLOC_CONF` in the
/// environment still overrides them).
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_CONF: Conf = Conf(c"narenas:2,dirty_decay_ms:1000".as_ptr());

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
    /// A setting jemalloc runs with (`T` of the setting's C type and size).
    fn setting<T: Default>(name: &std::ffi::CStr) -> T {
        let mut value = T::default();
        let mut size = std::mem::size_of::<T>();
        // SAFETY: `value` is a T of `size` bytes, the setting's type.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&raw mut value).cast(),
                &mut size,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(rc, 0, "mallctl {name:?}");
        value
    }

    #[test]
    fn jemalloc_runs_with_our_settings() {
        let _ = Box::new([0u8; 4096]);
        if std::env::var_os("_RJEM_MALLOC_CONF").is_none() {
            assert_eq!(setting::<u32>(c"opt.narenas"), 2);
            assert_eq!(setting::<isize>(c"opt.dirty_decay_ms"), 1000);
        }
        assert!(super::release_freed_memory());
    }
}
