//! What the engine reports while it works: shared by the engine, the worker protocol and the
//! page (no burn here, so the page's wasm does not link the engine).

use crate::engine::result::EpochRecord;
use serde::{Deserialize, Serialize};

/// Everything the engine tells its host while it works.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A multi-seed run starts seed number `index` of `count` (each seed then reports like a
    /// single run, from `Started` on).
    Seed {
        index: usize,
        count: usize,
        seed: u64,
    },
    /// An architecture study starts run number `index` of `count` (which then reports like a
    /// run of its own).
    StudyRun {
        index: usize,
        count: usize,
        label: String,
    },
    Started {
        units: Vec<String>,
        parameter_count: usize,
        train_examples: usize,
        test_examples: usize,
        steps_per_epoch: usize,
        total_steps: usize,
    },
    Step {
        /// 1-based epoch in progress.
        epoch: usize,
        done_steps: usize,
        total_steps: usize,
        #[serde(with = "crate::engine::floats")]
        samples_per_second: f64,
    },
    /// Mean training loss of the epoch so far, read back every few steps.
    Loss {
        #[serde(with = "crate::engine::floats")]
        epoch_progress: f64,
        #[serde(with = "crate::engine::floats")]
        loss: f32,
    },
    Epoch(EpochRecord),
    Checkpoint {
        epoch: usize,
    },
    SweepStarted {
        cells: usize,
    },
    SweepCell {
        done: usize,
        total: usize,
        cell: Cell,
        /// NaN: not computed, the weights were not finite.
        #[serde(with = "crate::engine::floats")]
        test_error: f64,
    },
}

/// One evaluation of the sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cell {
    Rerandomized {
        unit: usize,
    },
    Reinitialized {
        unit: usize,
        checkpoint: usize,
    },
    FullModel {
        checkpoint: usize,
    },
    Joint {
        set: usize,
        checkpoint: usize,
    },
    JointRerandomized {
        set: usize,
    },
    /// Unit `unit` at `(1 − α)·θ⁰ + α·θ`, `alpha` indexing the config's `interpolation` list.
    Interpolated {
        unit: usize,
        alpha: usize,
    },
}

/// How many of each kind of cell a sweep has: the shape of its [`plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanShape {
    pub units: usize,
    /// Saved checkpoints.
    pub checkpoints: usize,
    pub joint_sets: usize,
    /// α values of the interpolation.
    pub alphas: usize,
}

/// All cells, row by row as the heat map is drawn (ReRnd first, then each checkpoint), then the
/// full-model row, then joint sets, then the interpolation (unit by unit, α by α). `checkpoint`
/// fields index into the saved checkpoints. Later kinds come after earlier ones, so a run
/// journal written before a kind existed is still a prefix of the plan.
pub fn plan(shape: PlanShape) -> Vec<Cell> {
    let PlanShape {
        units,
        checkpoints,
        joint_sets,
        alphas,
    } = shape;
    let mut cells = Vec::new();
    for unit in 0..units {
        cells.push(Cell::Rerandomized { unit });
        for checkpoint in 0..checkpoints {
            cells.push(Cell::Reinitialized { unit, checkpoint });
        }
    }
    for checkpoint in 0..checkpoints {
        cells.push(Cell::FullModel { checkpoint });
    }
    for set in 0..joint_sets {
        cells.push(Cell::JointRerandomized { set });
        for checkpoint in 0..checkpoints {
            cells.push(Cell::Joint { set, checkpoint });
        }
    }
    for unit in 0..units {
        for alpha in 0..alphas {
            cells.push(Cell::Interpolated { unit, alpha });
        }
    }
    cells
}

/// About how many points the training-loss curve of a run has.
pub const LOSS_CURVE_POINTS: usize = 64;

/// Steps between two points of the loss curve (each point is the mean loss of those steps).
pub fn loss_window(total_steps: usize) -> usize {
    total_steps.div_ceil(LOSS_CURVE_POINTS).max(1)
}

/// How many cells [`plan`] lists, without listing them.
pub fn plan_len(shape: PlanShape) -> usize {
    (shape.units + shape.joint_sets)
        .saturating_mul(shape.checkpoints + 1)
        .saturating_add(shape.checkpoints)
        .saturating_add(shape.units.saturating_mul(shape.alphas))
}

/// A duration as `m:ss` or `h:mm:ss`, for ETAs in the page and the CLI.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod clock_tests {
    use super::clock;

    #[test]
    fn clock_formats_minutes_and_hours() {
        assert_eq!(clock(65.4), "1:05");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(clock(-3.0), "0:00");
    }
}
