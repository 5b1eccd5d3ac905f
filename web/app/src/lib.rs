//! Entry point of the page's UI module.

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    layerlab::ui::app::start();
}
