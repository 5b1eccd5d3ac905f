//! Small function components, one per file, each drawing one part of the state.

pub mod chart;
pub mod controls;
pub mod detail;
pub mod heatmap;
pub mod progress;
pub mod results;
