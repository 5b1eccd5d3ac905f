//! The page. `state`, `url` and `view` are plain Rust (tested natively); `app` (the root),
//! `components`, `hooks` (window listeners), `effects` (storage, files), `engine` (commands to
//! the worker), `dom` and `storage` are the yew/wasm side.

pub mod state;
pub mod url;
pub mod view;

#[cfg(all(target_arch = "wasm32", feature = "ui"))]
pub mod app;
#[cfg(all(target_arch = "wasm32", feature = "ui"))]
pub mod components;
#[cfg(all(target_arch = "wasm32", feature = "ui"))]
pub mod dom;
#[cfg(all(target_arch = "wasm32", feature = "ui"))]
pub mod effects;
#[cfg(all(target_arch = "wasm32", feature = "ui"))]
pub mod engine;
#[cfg(all(target_arch = "wasm32", feature = "ui"))]
pub mod hooks;
#[cfg(all(target_arch = "wasm32", feature = "ui"))]
pub mod offline;
#[cfg(all(target_arch = "wasm32", feature = "ui"))]
pub mod storage;
