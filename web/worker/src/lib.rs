//! Entry point of the engine's web worker.

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    layerlab::runtime::worker::start();
}
