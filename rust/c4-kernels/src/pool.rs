//! Named rayon pools, built lazily, one per thread count.
//!
//! The default size comes from the `C4_NUM_THREADS` environment variable, else from the number
//! of CPUs the process may use. Benchmarks pass an explicit count to measure scaling.

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Threads used when the caller does not ask for a count.
pub fn default_threads() -> usize {
    std::env::var("C4_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn pool(threads: usize) -> Arc<ThreadPool> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .expect("pool lock poisoned");
    pools
        .entry(threads)
        .or_insert_with(|| {
            Arc::new(
                ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(move |i| format!("c4-kernels-{threads}-{i}"))
                    .build()
                    .expect("cannot start kernel threads"),
            )
        })
        .clone()
}

/// Run `f` inside the pool of `threads` threads (default: [`default_threads`]).
pub fn install<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> R {
    let n = threads.filter(|&n| n > 0).unwrap_or_else(default_threads);
    pool(n).install(f)
}
