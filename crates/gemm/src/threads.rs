//! Threads: helpers beside the calling thread, used only for work big enough to pay for it.
//! Natively they are std threads (cores − 1, `LAYERLAB_THREADS` caps the total); in wasm there
//! are none, unless the module is built with WebAssembly threads (the `atomics` target feature,
//! shared memory): then the helpers are Web Workers the page's engine starts (see
//! [`serve_as_helper`]). Both run the same pool ([`pool`]); the split never changes a bit.

use super::Parallelism;

/// Products below this many multiply-adds stay on the calling thread (a fork costs microseconds).
pub(crate) const PARALLEL_MIN_MULADDS: usize = 1 << 21;

/// Parts a product is cut into per thread. In the page the threads claim them as they come
/// free, so one that started late (or shares its core with the page's own work) takes fewer:
/// with one part each, the helper idled 46% of an FCN run while the engine's thread waited 16%
/// for it. Natively the helpers are on time, and four parts each measured 2–5% slower on the
/// FCN (the same work in more, smaller pieces).
#[cfg(target_arch = "wasm32")]
pub(crate) const PARTS_PER_THREAD: usize = 4;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const PARTS_PER_THREAD: usize = 1;

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

/// Starts the native helper threads once (cores − 1, or `LAYERLAB_THREADS` − 1) and waits until
/// each has joined the pool, so the first product already shares.
#[cfg(not(target_arch = "wasm32"))]
fn start_native_helpers() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wanted = std::env::var("LAYERLAB_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(cores);
        let (joined, each_joined) = std::sync::mpsc::channel();
        let mut started = 0;
        for i in 1..wanted {
            let joined = joined.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("gemm-{i}"))
                .spawn(move || pool::serve_as_helper(move || _ = joined.send(())));
            started += usize::from(spawned.is_ok());
        }
        for _ in 0..started {
            let _ = each_joined.recv();
        }
    });
}

/// Threads a job may use: the helpers and the caller (one in wasm without threads).
#[cfg(not(target_arch = "wasm32"))]
pub fn available_threads() -> usize {
    start_native_helpers();
    pool::helpers() + 1
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub fn available_threads() -> usize {
    1
}

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub fn available_threads() -> usize {
    pool::helpers() + 1
}

/// The life of a helper thread in the page: called by each helper Web Worker once it has
/// instantiated the module on the shared memory; calls `ready` once it takes work, then never
/// returns. Only in a wasm build with threads.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub fn serve_as_helper(ready: impl FnOnce()) -> ! {
    pool::serve_as_helper(ready)
}

/// Runs `part(0..parts)`: on the calling thread and the helpers when there are any.
pub fn for_each_part(parts: usize, part: impl Fn(usize) + Sync) {
    #[cfg(not(target_arch = "wasm32"))]
    if parts > 1 {
        start_native_helpers();
    }
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if parts > 1 && pool::share(parts, &part) {
        return;
    }
    (0..parts).for_each(part);
}

/// The pool, natively and in the page alike. A job's parts are claimed one at a time by the
/// caller and the helpers, so the caller finishes a job even when no helper comes; the parts
/// write disjoint outputs, so who computes which never changes a bit.
///
/// Its own rather than rayon's (which it replaced natively, and which has no wasm form without
/// a bundler): between two products of a training step a helper keeps watching for the next
/// job for a while (about a millisecond) before it sleeps. Woken from a sleep, a helper came
/// late to products of a few hundred microseconds, and the caller had claimed its part already:
/// the second core gave the FCN 1.15× natively and in the page (BENCHMARKS.md, issue 11).
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
mod pool {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Condvar, Mutex, MutexGuard};

    /// The job under way. Its closure's lifetime is erased: [`share`] waits until every part
    /// has finished before it returns, and a part is only run after a claim that names the
    /// job's epoch succeeded (so while the job is unfinished).
    #[derive(Clone, Copy)]
    struct Job {
        part: *const (dyn Fn(usize) + Sync),
        parts: usize,
    }

    // Safety: the closure is `Sync`, and it outlives its use (see `Job`).
    unsafe impl Send for Job {}

    /// The posted job and its epoch.
    static POSTED: Mutex<(u32, Option<Job>)> = Mutex::new((0, None));
    /// `epoch << 32 | next part to claim`, the epoch bumped when a job is posted (what idle
    /// helpers watch): a claim names its job, so a helper that read the previous job late
    /// cannot claim a part of the next one.
    static TICKET: AtomicU64 = AtomicU64::new(0);
    /// Parts of the current job finished.
    static FINISHED: AtomicUsize = AtomicUsize::new(0);
    /// A caller holds the pool (another caller's job runs on its own thread meanwhile).
    static BUSY: AtomicBool = AtomicBool::new(false);
    static HELPERS: AtomicUsize = AtomicUsize::new(0);
    /// Helpers asleep, and whether the caller is: who needs a notification.
    static SLEEPERS: AtomicUsize = AtomicUsize::new(0);
    static CALLER_ASLEEP: AtomicBool = AtomicBool::new(false);
    static SLEEP: Mutex<()> = Mutex::new(());
    static WAKE_HELPERS: Condvar = Condvar::new();
    static WAKE_CALLER: Condvar = Condvar::new();

    /// Checks of the job counter an idle helper makes before it sleeps, about a millisecond
    /// natively (each check pauses, `spin_loop`) and a few in wasm (no pause: a check is a bare
    /// atomic load): longer than the serial work between two products of a training step.
    #[cfg(not(target_arch = "wasm32"))]
    const HELPER_CHECKS: u32 = 1 << 15;
    #[cfg(target_arch = "wasm32")]
    const HELPER_CHECKS: u32 = 1 << 22;
    /// Checks a caller makes for the last parts to finish before it sleeps: sixteen times
    /// longer, as those parts are already under way (in the page a caller that slept waited
    /// 7% of an FCN step for its wake-up).
    const CALLER_CHECKS: u32 = HELPER_CHECKS << 4;

    thread_local! {
        /// Inside a part: a nested job runs on this thread alone.
        static IN_PART: Cell<bool> = const { Cell::new(false) };
    }

    /// Kernels never panic mid-part, but a poisoned lock must not hang the engine either.
    fn lock<T>(mutex: &'static Mutex<T>) -> MutexGuard<'static, T> {
        mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wait<'a>(condvar: &Condvar, guard: MutexGuard<'a, ()>) -> MutexGuard<'a, ()> {
        condvar
            .wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `done()` turned true within `checks` checks.
    fn watch(checks: u32, done: impl Fn() -> bool) -> bool {
        for _ in 0..checks {
            if done() {
                return true;
            }
            core::hint::spin_loop();
        }
        false
    }

    /// The epoch of the job posted last.
    fn epoch() -> u32 {
        (TICKET.load(SeqCst) >> 32) as u32
    }

    /// Claims the next part of job `epoch`, if one is left.
    fn claim(epoch: u32, parts: usize) -> Option<usize> {
        let mut ticket = TICKET.load(SeqCst);
        loop {
            let next = (ticket & u64::from(u32::MAX)) as usize;
            if (ticket >> 32) as u32 != epoch || next >= parts {
                return None;
            }
            match TICKET.compare_exchange_weak(ticket, ticket + 1, SeqCst, SeqCst) {
                Ok(_) => return Some(next),
                Err(now) => ticket = now,
            }
        }
    }

    fn run_part(job: Job, index: usize) {
        IN_PART.with(|flag| flag.set(true));
        // Safety: the caller is still waiting for this part (see `Job`).
        unsafe { (*job.part)(index) };
        IN_PART.with(|flag| flag.set(false));
        if FINISHED.fetch_add(1, SeqCst) + 1 == job.parts && CALLER_ASLEEP.load(SeqCst) {
            let _guard = lock(&SLEEP);
            WAKE_CALLER.notify_all();
        }
    }

    pub fn helpers() -> usize {
        HELPERS.load(SeqCst)
    }

    /// A helper thread's whole life: registers, calls `ready`, then runs parts as they come.
    pub fn serve_as_helper(ready: impl FnOnce()) -> ! {
        let mut seen = epoch();
        HELPERS.fetch_add(1, SeqCst);
        ready();
        loop {
            if !watch(HELPER_CHECKS, || epoch() != seen) {
                let mut guard = lock(&SLEEP);
                SLEEPERS.fetch_add(1, SeqCst);
                while epoch() == seen {
                    guard = wait(&WAKE_HELPERS, guard);
                }
                SLEEPERS.fetch_sub(1, SeqCst);
            }
            let (epoch, job) = *lock(&POSTED);
            seen = epoch;
            if let Some(job) = job {
                while let Some(index) = claim(epoch, job.parts) {
                    run_part(job, index);
                }
            }
        }
    }

    /// Runs `part(0..parts)` on the caller and the helpers; returns when all have finished.
    /// `false` (nothing run) when there is nobody to share with.
    pub fn share(parts: usize, part: &(dyn Fn(usize) + Sync)) -> bool {
        if IN_PART.with(Cell::get) || helpers() == 0 || parts > u32::MAX as usize {
            return false;
        }
        if BUSY.compare_exchange(false, true, SeqCst, SeqCst).is_err() {
            return false;
        }
        // Safety: only the lifetime changes; see `Job`.
        let part: *const (dyn Fn(usize) + Sync + 'static) = unsafe { core::mem::transmute(part) };
        let job = Job { part, parts };
        let epoch = epoch().wrapping_add(1);
        *lock(&POSTED) = (epoch, Some(job));
        FINISHED.store(0, SeqCst);
        // Posts the job: its epoch, and part 0 next.
        TICKET.store(u64::from(epoch) << 32, SeqCst);
        if SLEEPERS.load(SeqCst) > 0 {
            let _guard = lock(&SLEEP);
            WAKE_HELPERS.notify_all();
        }
        while let Some(index) = claim(epoch, parts) {
            run_part(job, index);
        }
        if !watch(CALLER_CHECKS, || FINISHED.load(SeqCst) == parts) {
            let mut guard = lock(&SLEEP);
            CALLER_ASLEEP.store(true, SeqCst);
            while FINISHED.load(SeqCst) < parts {
                guard = wait(&WAKE_CALLER, guard);
            }
            CALLER_ASLEEP.store(false, SeqCst);
        }
        lock(&POSTED).1 = None;
        BUSY.store(false, SeqCst);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::pool;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    /// Shares `parts` parts until the pool takes the job (other tests' products may hold it):
    /// every part runs exactly once either way, and a nested job stays on its thread.
    fn run_shared(parts: usize) {
        for _ in 0..10_000 {
            let runs: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            let nested = AtomicUsize::new(0);
            let shared = pool::share(parts, &|i| {
                runs[i].fetch_add(1, Ordering::Relaxed);
                if !pool::share(2, &|_| {}) {
                    nested.fetch_add(1, Ordering::Relaxed);
                }
            });
            if !shared {
                continue;
            }
            assert!(
                runs.iter().all(|r| r.load(Ordering::Relaxed) == 1),
                "{parts} parts"
            );
            assert_eq!(
                nested.load(Ordering::Relaxed),
                parts,
                "a nested job is not shared"
            );
            return;
        }
        panic!("the pool never took a job of {parts} parts");
    }

    /// The pool on std threads (the page's helpers are Web Workers running the same code):
    /// every part runs exactly once, on the caller and the helpers; nested jobs stay on their
    /// thread; and thousands of jobs back to back, each finished before the next is posted,
    /// never run a part twice or a stale job's closure (the epoch in every claim).
    #[test]
    fn the_pool_runs_every_part_once() {
        let (ready, joined) = mpsc::channel();
        for _ in 0..3 {
            let ready = ready.clone();
            std::thread::spawn(move || {
                pool::serve_as_helper(move || ready.send(()).unwrap());
            });
        }
        for _ in 0..3 {
            joined.recv().unwrap();
        }
        assert!(pool::helpers() >= 3);
        for parts in [2, 3, 4, 17, 1000] {
            run_shared(parts);
        }
        let total = AtomicUsize::new(0);
        for job in 0..20_000usize {
            let parts = 2 + job % 5;
            let runs: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            super::for_each_part(parts, |i| {
                runs[i].fetch_add(1, Ordering::Relaxed);
                total.fetch_add(1, Ordering::Relaxed);
            });
            assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1), "job {job}");
        }
        assert_eq!(
            total.load(Ordering::Relaxed),
            (0..20_000).map(|j| 2 + j % 5).sum::<usize>()
        );
    }
}
