//! The engine: data, models, training, checkpoints, the reset sweep and the result file.
//!
//! Nothing in here knows about the browser. It runs on any burn [`Device`](burn::tensor::Device)
//! and is tested natively on the CPU backend; the page runs the same code in a web worker.

pub mod config;
pub mod data;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod result;
pub mod rng;
pub mod sweep;
pub mod train;
pub mod units;

pub use config::ExperimentConfig;
pub use result::ResultFile;
pub use train::{Driver, EngineError, Event, run_experiment};
