//! Entry point of the engine's web worker.

/// Runs of this module's static constructors so far, for the end-to-end test that they run
/// once per instance (see `start`).
#[cfg(target_arch = "wasm32")]
static CONSTRUCTOR_RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[cfg(target_arch = "wasm32")]
extern "C" fn count_constructor_run() {
    CONSTRUCTOR_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// A constructor of our own beside cubecl's (registered as inventory registers them), so that
/// a module linked as a "command" again shows up as a count above one.
#[cfg(target_arch = "wasm32")]
#[used]
#[unsafe(link_section = ".init_array")]
static COUNT_CONSTRUCTOR_RUN: extern "C" fn() = count_constructor_run;

/// How many times the static constructors have run in this instance: 1 unless wasm-ld wrapped
/// the exports again (the e2e `webgpu` test calls it after a run as
/// `wasm_bindgen.constructor_runs()`).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn constructor_runs() -> u32 {
    CONSTRUCTOR_RUNS.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    /// The static constructors, synthesized by the linker: cubecl registers its IR dialects
    /// through `inventory`, one constructor each.
    fn __wasm_call_ctors();
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    // Run the constructors once, here. A module whose exports never call them is linked as a
    // "command": wasm-ld then wraps every export (4,641 here, the externref table's included)
    // in a call to all of them, and each JS-to-wasm call of a training step re-ran thousands of
    // idempotent registrations: half of the worker's time on WebGPU.
    // SAFETY: the first Rust code of the instance (wasm-bindgen calls `start` right after
    // instantiation) and nothing reads the registries before it; inventory's constructors
    // are idempotent, so a second run would be harmless too.
    unsafe { __wasm_call_ctors() };
    layerlab::runtime::worker::start();
}

/// The WebGPU kernels against the CPU backend (JSON rows), for the end-to-end tests: called in
/// the worker's scope as `wasm_bindgen.kernel_check()`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub async fn kernel_check() -> Result<String, wasm_bindgen::JsValue> {
    layerlab::runtime::worker::kernel_check()
        .await
        .map_err(|e| wasm_bindgen::JsValue::from_str(&e))
}

/// Where an FCN training step's time goes on WebGPU (JSON), for bench/run.mjs: called in the
/// worker's scope as `wasm_bindgen.profile_fcn_step(steps)`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub async fn profile_fcn_step(steps: usize) -> Result<String, wasm_bindgen::JsValue> {
    layerlab::runtime::worker::profile_fcn_step(steps)
        .await
        .map_err(|e| wasm_bindgen::JsValue::from_str(&e))
}

/// Switches the WebGPU kernel families in `mask` (dense 1, convolution 2, pooling 4, loss 8,
/// SGD 16) back to burn's operations for the runs that follow, for same-build comparisons
/// (bench/).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn set_gpu_kernels_off(mask: u32) {
    layerlab::engine::kernels::gpu::set_disabled(mask);
}
