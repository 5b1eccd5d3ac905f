//! Threads: natively a pool of helpers (cores − 1) beside the calling thread, used only for
//! products big enough to pay for it. In wasm one thread, unless the module is built with
//! WebAssembly threads (the `atomics` target feature, shared memory): then the helpers are Web
//! Workers the page's engine starts (see [`serve_as_helper`]). The split never changes a bit.

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

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub fn available_threads() -> usize {
    1
}

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub fn available_threads() -> usize {
    web::helpers() + 1
}

/// The life of a helper thread in the page: called by each helper Web Worker once it has
/// instantiated the module on the shared memory; calls `ready` once it takes work, then never
/// returns. Only in a wasm build with threads.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub fn serve_as_helper(ready: impl FnOnce()) -> ! {
    web::serve_as_helper(ready)
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
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    if parts > 1 && web::share(parts, &part) {
        return;
    }
    (0..parts).for_each(part);
}

/// In the page (wasm built with the `atomics` feature, its memory shared): the helper threads
/// are Web Workers that the engine's worker starts (`runtime::threads`), each running
/// [`serve_as_helper`] on the same module and memory. A job's parts are claimed one at a time by
/// the caller and the helpers alike, so the caller finishes the job even when a helper has not
/// started yet; the parts write disjoint outputs, so who computes which never changes a bit.
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "atomics")))]
mod web {
    use std::cell::Cell;
    use std::sync::{Condvar, Mutex, MutexGuard};

    /// The job under way. Its closure's lifetime is erased: [`for_each_part`] waits until every
    /// part has finished before it returns, and nobody reads the pointer after that.
    #[derive(Clone, Copy)]
    struct Job {
        part: *const (dyn Fn(usize) + Sync),
        parts: usize,
    }

    // Safety: the closure is `Sync`, and it outlives its use (see `Job`).
    unsafe impl Send for Job {}

    struct State {
        job: Option<Job>,
        /// The next part to claim, and how many have finished.
        next: usize,
        finished: usize,
        helpers: usize,
    }

    static STATE: Mutex<State> = Mutex::new(State {
        job: None,
        next: 0,
        finished: 0,
        helpers: 0,
    });
    /// A job was posted (helpers wait on it).
    static POSTED: Condvar = Condvar::new();
    /// A job's last part finished (the caller waits on it).
    static FINISHED: Condvar = Condvar::new();

    thread_local! {
        /// Inside a part: a nested job runs on this thread alone.
        static IN_PART: Cell<bool> = const { Cell::new(false) };
    }

    /// A kernel never panics mid-part, but a poisoned lock must not hang the engine either.
    fn state() -> MutexGuard<'static, State> {
        STATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims the next part of the current job, if one is left.
    fn claim(state: &mut State) -> Option<(Job, usize)> {
        let job = state.job?;
        (state.next < job.parts).then(|| {
            state.next += 1;
            (job, state.next - 1)
        })
    }

    fn run_part(job: Job, index: usize) {
        IN_PART.with(|flag| flag.set(true));
        // Safety: the caller is still waiting for this part (see `Job`).
        unsafe { (*job.part)(index) };
        IN_PART.with(|flag| flag.set(false));
        let mut state = state();
        state.finished += 1;
        if state.finished == job.parts {
            FINISHED.notify_all();
        }
    }

    pub fn helpers() -> usize {
        state().helpers
    }

    /// A helper thread's whole life: registers, calls `ready`, then runs parts as they come.
    pub fn serve_as_helper(ready: impl FnOnce()) -> ! {
        state().helpers += 1;
        ready();
        loop {
            let (job, index) = {
                let mut state = state();
                loop {
                    if let Some(claimed) = claim(&mut state) {
                        break claimed;
                    }
                    state = POSTED
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            };
            run_part(job, index);
        }
    }

    /// Runs `part(0..parts)` on the caller and the helpers; returns when all have finished.
    /// `false` (nothing run) when there is nobody to share with.
    pub fn share(parts: usize, part: &(dyn Fn(usize) + Sync)) -> bool {
        if IN_PART.with(Cell::get) {
            return false;
        }
        {
            let mut state = state();
            if state.helpers == 0 || state.job.is_some() {
                return false;
            }
            // Safety: only the lifetime changes; see `Job`.
            let part: *const (dyn Fn(usize) + Sync + 'static) = unsafe { core::mem::transmute(part) };
            state.job = Some(Job { part, parts });
            state.next = 0;
            state.finished = 0;
        }
        POSTED.notify_all();
        loop {
            let claimed = claim(&mut state());
            match claimed {
                Some((job, index)) => run_part(job, index),
                None => break,
            }
        }
        let mut state = state();
        while state.finished < parts {
            state = FINISHED
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        state.job = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::web;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    /// The page's pool, run natively on std threads: every part runs exactly once, on the
    /// caller and the helpers, nested jobs stay on their thread, and a job can follow a job.
    #[test]
    fn the_page_pool_runs_every_part_once() {
        assert!(
            !web::share(4, &|_| {}),
            "no helpers yet: the caller runs the parts itself"
        );
        let (ready, joined) = mpsc::channel();
        for _ in 0..3 {
            let ready = ready.clone();
            std::thread::spawn(move || {
                web::serve_as_helper(move || ready.send(()).unwrap());
            });
        }
        for _ in 0..3 {
            joined.recv().unwrap();
        }
        assert_eq!(web::helpers(), 3);
        for parts in [2, 3, 4, 17, 1000] {
            let runs: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            let nested = AtomicUsize::new(0);
            let shared = web::share(parts, &|i| {
                runs[i].fetch_add(1, Ordering::Relaxed);
                if !web::share(2, &|_| {}) {
                    nested.fetch_add(1, Ordering::Relaxed);
                }
            });
            assert!(shared);
            assert!(
                runs.iter().all(|r| r.load(Ordering::Relaxed) == 1),
                "{parts} parts"
            );
            assert_eq!(
                nested.load(Ordering::Relaxed),
                parts,
                "a nested job is not shared"
            );
        }
    }
}
