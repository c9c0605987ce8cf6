//! The allocator: jemalloc, whose per-thread caches serve the many small
//! allocations of a request without a lock; glibc's malloc took an arena
//! lock for every buffer over 1 KiB, or kept each thread's freed memory
//! resident (docs/BENCHMARKS.md). Two arenas, and freed pages go back to the
//! system after a second rather than ten.
//!
//! A binary installs it with [`use_jemalloc!`]: the global allocator is the
//! program's choice, not the library's.

use std::ffi::c_char;

pub use tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts (`_RJEM_MALLOC_CONF` in the
/// environment still overrides them).
pub const CONF: Conf = Conf(c"narenas:2,dirty_decay_ms:1000".as_ptr());

/// A C string jemalloc reads; it is never written.
#[repr(transparent)]
pub struct Conf(*const c_char);

// SAFETY: points at a static, immutable C string.
unsafe impl Sync for Conf {}

/// Makes jemalloc, with [`CONF`], the calling binary's global allocator.
#[macro_export]
macro_rules! use_jemalloc {
    () => {
        #[global_allocator]
        static ALLOCATOR: $crate::allocator::Jemalloc = $crate::allocator::Jemalloc;

        #[unsafe(export_name = "_rjem_malloc_conf")]
        static JEMALLOC_CONF: $crate::allocator::Conf = $crate::allocator::CONF;
    };
}

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

/// A setting jemalloc runs with (`T` of the setting's C type and size), for
/// the binaries' tests that check [`CONF`] took effect.
pub fn setting<T: Default>(name: &std::ffi::CStr) -> Option<T> {
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
    (rc == 0).then_some(value)
}
