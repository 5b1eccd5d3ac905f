//! The engine's side of the run journal: what a run in progress writes at each persist point
//! (checkpoints, the trained weights, sweep cells), and the run read back for a resume. Stored
//! data is decoded as hostile as any file: sizes are checked against the model before use.

use crate::engine::metrics::{self, Evaluation};
use crate::engine::models::Model;
use crate::engine::train::{Persist, StoredRun, TrainingSummary};
use crate::engine::units::Weights;
use crate::runtime::error::RuntimeError;
use crate::runtime::journal;
use crate::runtime::protocol::JournalHeader;

/// Every tensor's values, concatenated in layout order.
async fn host_values(weights: &Weights) -> Result<Vec<f32>, RuntimeError> {
    let mut all = Vec::new();
    for tensor in weights {
        all.extend(
            metrics::read_floats(tensor.clone())
                .await
                .map_err(RuntimeError::Engine)?,
        );
    }
    Ok(all)
}

/// Writes one persist point and the updated header.
pub async fn keep(header: &mut JournalHeader, point: Persist<'_>) -> Result<(), RuntimeError> {
    match point {
        Persist::Checkpoint {
            epoch,
            weights,
            summary,
        } => {
            journal::put_floats(&journal::checkpoint_key(epoch), &host_values(weights).await?).await?;
            journal::put_json("summary", summary).await?;
            header.checkpoints.push(epoch);
        }
        Persist::Trained { weights, summary } => {
            journal::put_floats("trained", &host_values(weights).await?).await?;
            journal::put_json("summary", summary).await?;
            header.training_ended = true;
        }
        Persist::Cell { index, evaluation } => {
            // One small record per cell: the sweep runs in plan order, so the stored cells are
            // always the first `cells_done` of the plan.
            journal::put_json(&journal::cell_key(index), evaluation).await?;
            header.cells_done = index + 1;
        }
        Persist::Seed { index, result } => {
            // The seed's result replaces its checkpoints and cells: the header stops counting
            // them, and the next seed writes over their keys.
            journal::put_json(&journal::seed_key(index), result).await?;
            header.seeds_done = index + 1;
            header.checkpoints.clear();
            header.training_ended = false;
            header.cells_done = 0;
            header.cells_total = 0;
        }
    }
    journal::put_header(header).await
}

fn missing(what: String) -> RuntimeError {
    RuntimeError::Storage(what)
}

/// The journal's run, as the engine takes it back.
pub async fn read(header: &JournalHeader, classes: usize) -> Result<StoredRun, RuntimeError> {
    let model = Model::new(
        header.config.architecture(),
        header.config.dataset.image_shape(),
        classes,
    );
    let split = |values: Vec<f32>| -> Result<Vec<Vec<f32>>, RuntimeError> {
        let lengths: Vec<usize> = model.tensors.iter().map(|t| t.len()).collect();
        if values.len() != lengths.iter().sum::<usize>() {
            return Err(missing("the stored weights do not fit the model".into()));
        }
        let mut at = 0;
        Ok(lengths
            .into_iter()
            .map(|n| {
                at += n;
                values[at - n..at].to_vec()
            })
            .collect())
    };
    let mut checkpoints = Vec::new();
    for &epoch in &header.checkpoints {
        let values = journal::get_floats(&journal::checkpoint_key(epoch))
            .await?
            .ok_or_else(|| missing(format!("checkpoint {epoch} is missing from the stored run")))?;
        checkpoints.push((epoch, split(values)?));
    }
    let trained = if header.training_ended {
        let values = journal::get_floats("trained")
            .await?
            .ok_or_else(|| missing("the trained weights are missing from the stored run".into()))?;
        Some(split(values)?)
    } else {
        None
    };
    let mut seeds = Vec::new();
    for index in 0..header.seeds_done.min(crate::engine::result::caps::SEEDS) {
        let result = journal::get_json(&journal::seed_key(index))
            .await?
            .ok_or_else(|| {
                missing(format!(
                    "the result of seed {} is missing from the stored run",
                    index + 1
                ))
            })?;
        seeds.push(result);
    }
    let summary = if header.checkpoints.is_empty() && !seeds.is_empty() {
        // Between two seeds: nothing of the next one is stored yet.
        TrainingSummary::so_far(&[], &[], &[], 0.0, 0, 0.0, f64::NAN)
    } else {
        journal::get_json("summary")
            .await?
            .ok_or_else(|| missing("the stored run has no training summary".into()))?
    };
    // A damaged count stops at the first missing cell (no allocation up front).
    let mut cells: Vec<(usize, Evaluation)> = Vec::new();
    for index in 0..header.cells_done {
        let evaluation = journal::get_json(&journal::cell_key(index))
            .await?
            .ok_or_else(|| missing(format!("sweep cell {index} is missing from the stored run")))?;
        cells.push((index, evaluation));
    }
    Ok(StoredRun {
        checkpoints,
        trained,
        summary,
        cells,
        seeds,
    })
}
