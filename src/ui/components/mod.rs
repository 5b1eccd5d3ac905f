//! Small function components, one per file, each drawing one part of the state.

pub mod chart;
pub mod compare;
pub mod controls;
pub mod detail;
pub mod export;
pub mod heatmap;
pub mod help;
pub mod present;
pub mod progress;
pub mod results;
pub mod saved;
pub mod share;
pub mod status;
pub mod study;
