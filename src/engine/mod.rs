//! The engine: data, models, training, checkpoints, the reset sweep and the result file.
//!
//! Nothing in here knows about the browser. It runs on any burn [`Device`](burn::tensor::Device)
//! and is tested natively on the CPU backend; the page runs the same code in a web worker.

//!
//! The parts that need burn (models, training, sweep) sit behind the `engine` feature; the
//! rest (config, data decoders, result file, events) is shared with the page's UI, which is
//! built without burn.

pub mod budget;
pub mod config;
pub mod data;
pub mod events;
pub mod floats;
pub mod link;
pub mod presets;
pub mod result;
pub mod rng;

#[cfg(feature = "engine")]
pub mod kernels;
#[cfg(feature = "engine")]
pub mod metrics;
#[cfg(feature = "engine")]
pub mod models;
#[cfg(feature = "engine")]
pub mod optim;
#[cfg(feature = "engine")]
pub mod study;
#[cfg(feature = "engine")]
pub mod sweep;
#[cfg(feature = "engine")]
pub mod train;
#[cfg(feature = "engine")]
pub mod units;

pub use config::ExperimentConfig;
pub use events::{Cell, Event};
pub use result::ResultFile;
#[cfg(feature = "engine")]
pub use train::{Driver, EngineError, run_experiment};
