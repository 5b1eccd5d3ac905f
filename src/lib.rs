//! LayerLab: which layers of a neural network matter? A reproduction of "Are All Layers Created
//! Equal?" (Zhang, Bengio & Singer, JMLR 2022) that trains and probes models on the user's own
//! GPU in the browser, or natively from the command line.
//!
//! Three layers, one way: [`engine`] (no browser, any burn device) ← [`runtime`] (wasm: the
//! worker, device choice, fetch, storage) ← [`ui`] (the yew page); the [`engine::result`] file
//! format is the seam shared by the page, the CLI and share links.

pub mod engine;
pub mod report;
pub mod runtime;
pub mod ui;

#[cfg(all(not(target_arch = "wasm32"), feature = "engine"))]
pub mod cli;
