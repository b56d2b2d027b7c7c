//! The global allocator. glibc's malloc by default; with `--features mimalloc`, mimalloc, with
//! the settings that keep its memory per idle connection down.
//!
//! The proxy allocates on every request (pingora's heads, the detectors' and the output
//! judge's scratch, provenance records), and glibc's malloc and free are about a sixth of its
//! CPU under load (README, Benchmarks). By default mimalloc keeps freed memory for a second
//! before it returns it and commits its arenas eagerly, which made an idle intercepted
//! connection cost about 130 KiB; purging at once and committing on demand bring it to 98 KiB
//! (glibc: 94), under the 100 KiB the proxy promises.
//!
//! mimalloc reads its options from its environment when the process starts, before `main`,
//! and this crate forbids `unsafe` (which its programmatic `mi_option_set` would need). So when
//! they are not set, the process runs itself again, once, with them set: the same program,
//! arguments and process id. An operator's own `MIMALLOC_*` values are kept.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's settings and their values.
const SETTINGS: [(&str, &str); 2] = [
    ("MIMALLOC_PURGE_DELAY", "0"),
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
];

/// With mimalloc, makes sure its settings are in force: returns if they are, otherwise
/// replaces the process with itself with them set (returning only if that fails, which costs
/// memory, not correctness).
pub(crate) fn settle() {
    if !cfg!(feature = "mimalloc") {
        return;
    }
    let missing: Vec<_> = SETTINGS
        .iter()
        .filter(|(name, _)| std::env::var_os(name).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| OsString::from("tollgate"));
    let mut again = std::process::Command::new("/proc/self/exe");
    again.arg0(arg0).args(args);
    for (name, value) in missing {
        again.env(name, value);
    }
    let error = again.exec();
    eprintln!("tollgate: cannot apply the allocator's settings ({error}); running with its defaults");
}
