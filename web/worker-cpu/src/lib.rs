//! Entry point of the CPU-only engine worker (the same worker as web/worker, without WebGPU).

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    layerlab::runtime::worker::start();
}

/// Where an FCN training step's time goes on the CPU backend (JSON), for bench/run.mjs.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub async fn profile_fcn_step(steps: usize) -> Result<String, wasm_bindgen::JsValue> {
    layerlab::runtime::worker::profile_fcn_step(steps)
        .await
        .map_err(|e| wasm_bindgen::JsValue::from_str(&e))
}

/// A helper thread's entry (the engine built with WebAssembly threads): its helper script calls
/// it once the module is instantiated on the engine's shared memory. It never returns.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn helper_main() {
    layerlab::runtime::threads::serve();
}
