//! Entry point of the CPU-only engine worker (the same worker as web/worker, without WebGPU).

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    layerlab::runtime::worker::start();
}
