//! Threads: natively a pool of helpers (cores − 1) beside the calling thread, used only for
//! products big enough to pay for it; in wasm one thread. The split never changes a bit.

use super::Parallelism;

/// Products below this many multiply-adds stay on the calling thread (a fork costs microseconds).
const PARALLEL_MIN_MULADDS: usize = 1 << 21;

/// Threads for an `m×n×k` product: the cores when it is big enough, unless the caller caps them.
pub fn threads_for(m: usize, n: usize, k: usize, parallelism: Parallelism) -> usize {
    let work = m.saturating_mul(n).saturating_mul(k);
    if work < PARALLEL_MIN_MULADDS {
        return 1;
    }
    let cores = available_threads();
    match parallelism {
        Parallelism::Rayon(cap) if cap > 0 => cores.min(cap),
        _ => cores,
    }
}

/// The helper threads: one fewer than the cores, because the calling thread takes a share
/// itself. A pool of its own, so a product never waits behind other work in rayon's global pool
/// and the machine is never oversubscribed.
#[cfg(not(target_arch = "wasm32"))]
fn helpers() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wanted = std::env::var("LAYERLAB_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(cores);
        (wanted > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(wanted - 1)
                    .thread_name(|i| format!("gemm-{i}"))
                    .build()
                    .ok()
            })
            .flatten()
    })
    .as_ref()
}

/// Threads a job may use: the helpers and the caller natively, one in wasm.
#[cfg(not(target_arch = "wasm32"))]
pub fn available_threads() -> usize {
    helpers().map_or(1, |pool| pool.current_num_threads() + 1)
}

#[cfg(target_arch = "wasm32")]
pub fn available_threads() -> usize {
    1
}

/// Runs `part(0..parts)`: part 0 on the calling thread, the others on the helper threads.
pub fn for_each_part(parts: usize, part: impl Fn(usize) + Sync) {
    #[cfg(not(target_arch = "wasm32"))]
    if parts > 1
        && let Some(pool) = helpers()
    {
        let part = &part;
        pool.in_place_scope(|scope| {
            for index in 1..parts {
                scope.spawn(move |_| part(index));
            }
            part(0);
        });
        return;
    }
    (0..parts).for_each(part);
}
