//! The thin runtime between the engine and the page: the worker that hosts the engine, device
//! choice (WebGPU or CPU), data fetching and caching, the page ⇄ worker bridge. `protocol` and
//! `error` are target-independent; the rest is wasm-only.

pub mod error;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
pub mod adapter;
#[cfg(target_arch = "wasm32")]
pub mod bridge;
#[cfg(all(target_arch = "wasm32", feature = "engine"))]
pub mod data;
#[cfg(all(target_arch = "wasm32", feature = "engine"))]
pub mod device;
#[cfg(target_arch = "wasm32")]
pub mod fetch;
#[cfg(target_arch = "wasm32")]
pub mod idb;
#[cfg(target_arch = "wasm32")]
pub mod journal;
#[cfg(target_arch = "wasm32")]
pub mod js;
#[cfg(all(target_arch = "wasm32", feature = "engine"))]
pub mod stored_run;
#[cfg(all(target_arch = "wasm32", feature = "engine", target_feature = "atomics"))]
pub mod threads;
#[cfg(all(target_arch = "wasm32", feature = "engine"))]
pub mod worker;
