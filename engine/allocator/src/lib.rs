//! The process's memory allocator, mimalloc, and how long it keeps memory that queries freed.
//!
//! mimalloc instead of glibc's malloc: a query allocates and frees arrays of hundreds of
//! kilobytes per batch, and glibc's `_int_malloc`, `_int_free` and `malloc_consolidate`, with
//! page faults, showed in perf profiles of SSB and TPC-H queries. mimalloc reuses freed pages
//! per thread (SSB and TPC-H: about 4% less wall time).
//!
//! Left to its defaults, mimalloc gives memory unused for one second back to the kernel with
//! `MADV_DONTNEED`, so the first query after a pause faults its pages in again and the kernel
//! zeroes each one: TPC-H q09 at SF1 took 300 ms and 2000-3600 page faults when it ran 3 s
//! after the previous query, against 100-150 ms and a few hundred faults back to back, and
//! perf put `clear_page_erms` at 10% of the CPU of such runs. [`configure`] keeps freed memory
//! for 5 s, as StarRocks' BE keeps it (`dirty_decay_ms:5000` in the `JEMALLOC_CONF` of its
//! `start_be.sh`), and then gives it back lazily with `MADV_FREE`, as jemalloc's muzzy pages
//! are: the kernel reclaims those pages when it runs short of memory, and until then a query
//! that writes them again takes no fault. They count in the process's resident memory until
//! the kernel takes them.

use std::ffi::OsString;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_decommits` (`mimalloc.h`, the same in its v2 and v3): whether a
/// purge decommits (`MADV_DONTNEED`) or resets (`MADV_FREE`).
const PURGE_DECOMMITS: libmimalloc_sys::mi_option_t = 5;
/// mimalloc's `mi_option_purge_delay`: milliseconds before freed memory is purged.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays as it is before it is given back: StarRocks' `dirty_decay_ms`.
pub const PURGE_DELAY_MILLISECONDS: i32 = 5000;

/// Sets how mimalloc gives freed memory back (see the crate's documentation). An option set
/// in the environment (`MIMALLOC_PURGE_DELAY`, `MIMALLOC_PURGE_DECOMMITS`) is left to it, as
/// mimalloc documents.
///
/// Call it first thing in `main`, before any other thread runs: mimalloc's options are not
/// safe to set while other threads allocate.
pub fn configure() {
    configure_from(|name| std::env::var_os(name));
}

fn configure_from(environment: impl Fn(&str) -> Option<OsString>) {
    for (name, option, value) in [
        ("MIMALLOC_PURGE_DELAY", PURGE_DELAY, PURGE_DELAY_MILLISECONDS),
        ("MIMALLOC_PURGE_DECOMMITS", PURGE_DECOMMITS, 0),
    ] {
        if environment(name).is_none() {
            // SAFETY: mi_option_set takes any option and value; `configure`'s caller runs it
            // before other threads exist.
            #[allow(unsafe_code)]
            unsafe {
                libmimalloc_sys::mi_option_set(option, value.into());
            }
        }
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use std::ffi::{CStr, c_char, c_void};

    use super::*;

    unsafe extern "C" {
        fn mi_options_print_out(out: libmimalloc_sys::mi_output_fun, arg: *mut c_void);
    }

    unsafe extern "C" fn append(message: *const c_char, text: *mut c_void) {
        // SAFETY: `printed_options` passes its String as `text`, and mimalloc passes a C string.
        unsafe { (*text.cast::<String>()).push_str(&CStr::from_ptr(message).to_string_lossy()) }
    }

    /// mimalloc's own listing of its options by name, so that the test checks the option
    /// numbers above name the options meant.
    fn printed_options() -> String {
        let mut text = String::new();
        // SAFETY: `append` matches mi_output_fun and `text` outlives the call.
        unsafe { mi_options_print_out(Some(append), (&raw mut text).cast()) };
        text
    }

    fn option_line(printed: &str, name: &str) -> String {
        let prefix = format!("option '{name}': ");
        printed.lines().find(|line| line.starts_with(&prefix)).map(str::trim).unwrap_or_default().to_string()
    }

    // One test, because mimalloc's options are one set per process and tests run in threads.
    #[test]
    fn freed_memory_is_kept_five_seconds_then_reset_unless_the_environment_says_otherwise() {
        let before = printed_options();
        let delay_before = option_line(&before, "purge_delay");
        let decommits_before = option_line(&before, "purge_decommits");
        assert!(!delay_before.is_empty() && !decommits_before.is_empty(), "{before}");

        configure_from(|name| name.starts_with("MIMALLOC_").then(|| OsString::from("7")));
        let after_environment = printed_options();
        assert_eq!(option_line(&after_environment, "purge_delay"), delay_before);
        assert_eq!(option_line(&after_environment, "purge_decommits"), decommits_before);

        configure_from(|_| None);
        let configured = printed_options();
        assert_eq!(option_line(&configured, "purge_delay"), "option 'purge_delay': 5000");
        assert_eq!(option_line(&configured, "purge_decommits"), "option 'purge_decommits': 0");
    }
}
