//! The CPU engine's helper threads in the page, for the engine built with WebAssembly threads
//! (`web/worker-cpu` compiled with the `atomics` target feature by scripts/build-cpu-threads.sh).
//!
//! The engine's worker is the "main" thread: it instantiates the module on a new shared memory.
//! It then starts one Web Worker per extra core, each running the helper script layerlab-stage
//! writes (its URL is `self.layerlab_helper_url`, set by the loader): the helper instantiates the
//! same module on the same memory and enters [`serve`], which hands it to the matrix products'
//! pool (`gemm::serve_as_helper`). From then on a product or a convolution's copies split over
//! every thread, with the same bits as on one (each part writes its own outputs).
//!
//! This needs a cross-origin isolated page (SharedArrayBuffer); the page loads this engine only
//! then, and the one-thread engine otherwise (see `ui::engine`).

use crate::runtime::js;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// At most this many threads in all. Each helper costs a module instance and a stack, and the
/// products of these models stop gaining long before a desktop's 16 or 32 hardware threads.
const MAX_THREADS: usize = 8;

/// How long the engine waits for its helpers before training with those that came.
const START_TIMEOUT_MS: i32 = 20_000;

/// Set by the helper script before it loads the module: this instance is a helper, not the
/// engine (the module's start function returns at once there).
pub fn is_helper() -> bool {
    js::get(&js_sys::global(), "layerlab_helper_thread").is_truthy()
}

/// A helper thread's whole life: joins the products' pool, says so to the engine, then works.
pub fn serve() {
    gemm::serve_as_helper(|| {
        let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = scope.post_message(&JsValue::TRUE);
    })
}

thread_local! {
    /// Why fewer threads than cores (up to [`MAX_THREADS`]) joined, once the start is over.
    static SHORTFALL: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Why the engine has fewer threads than it asked for, in words for the page.
pub fn shortfall() -> Option<String> {
    SHORTFALL.with(|s| s.borrow().clone())
}

/// Starts the helpers (one per extra core, up to [`MAX_THREADS`] threads in all) and waits until
/// each has joined, failed or timed out; [`shortfall`] then says why any did not.
pub async fn start_helpers() {
    let shortfall = start().await;
    SHORTFALL.with(|s| *s.borrow_mut() = shortfall);
}

async fn start() -> Option<String> {
    let global = js_sys::global();
    let cores = js::get(&js::get(&global, "navigator"), "hardwareConcurrency")
        .as_f64()
        .filter(|n| n.is_finite() && *n >= 1.0)
        .map_or(1, |n| n as usize);
    let wanted = cores.min(MAX_THREADS);
    if wanted <= 1 {
        return None;
    }
    let Some(url) = js::get_string(&global, "layerlab_helper_url") else {
        return Some("the threads' helper script is missing from this build".into());
    };
    // [module, memory]: what a helper instantiates, on the engine's own memory.
    let init = js_sys::Array::of2(&wasm_bindgen::module(), &wasm_bindgen::memory());
    let mut joined = Vec::new();
    let mut failure = None;
    for _ in 1..wanted {
        match spawn_helper(&url, &init) {
            Ok(promise) => joined.push(promise),
            Err(e) => {
                failure = Some(js::describe(&e));
                break;
            }
        }
    }
    let all = js_sys::Promise::all(&joined.into_iter().collect::<js_sys::Array>());
    let timeout = js_sys::Promise::new(&mut |resolve, _| {
        let scope: web_sys::DedicatedWorkerGlobalScope = global.clone().unchecked_into();
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, START_TIMEOUT_MS);
    });
    let _ = js::await_promise(js_sys::Promise::race(&js_sys::Array::of2(&all, &timeout)).into()).await;
    let threads = gemm::available_threads();
    (threads < wanted).then(|| {
        format!(
            "{} of {} helper threads started{}",
            threads - 1,
            wanted - 1,
            failure.map(|f| format!(" ({f})")).unwrap_or_default()
        )
    })
}

/// Starts one helper worker; the promise settles when it has joined the pool (or failed to load).
fn spawn_helper(url: &str, init: &js_sys::Array) -> Result<js_sys::Promise, JsValue> {
    let worker = web_sys::Worker::new(url)?;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        // Kept for the worker's life (a later error event must find a live callback); settling
        // an already settled promise does nothing.
        let settle = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        worker.set_onmessage(Some(settle.as_ref().unchecked_ref()));
        worker.set_onerror(Some(settle.as_ref().unchecked_ref()));
        settle.forget();
    });
    worker.post_message(init)?;
    Ok(promise)
}
