//! Entry point of the CPU engine for browsers without relaxed SIMD (see its Cargo.toml). The page
//! loads it where `WebAssembly.validate` rejects relaxed SIMD's `madd` (`ui::dom::relaxed_simd`).

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    layerlab::runtime::worker::start();
}
