//! The reset sweep: for every unit and checkpoint, the trained model with that unit put back to
//! its checkpoint (or re-randomized), evaluated on the test set with no retraining; plus the full
//! model at each checkpoint and any joint sets.

pub use crate::engine::events::{Cell, plan};
use crate::engine::metrics::{self, TestSet, distance_from_terms, unit_distance_terms};
use crate::engine::models::Model;
use crate::engine::result::{Distance, JointRecord, JointRerandomized, PerClass, Robustness};
use crate::engine::train::{Driver, EngineError, Event};
use crate::engine::units::{self, Weights};
use burn::tensor::{Device, Tensor};

/// What the sweep needs: the trained model, its checkpoints and the test set.
pub struct SweepInputs<'a> {
    pub model: &'a Model,
    pub trained: &'a Weights,
    pub initial: &'a Weights,
    /// `(epoch, weights)` of each saved checkpoint, in order.
    pub checkpoints: &'a [(usize, Weights)],
    /// Unit indices of each joint set.
    pub joint_sets: &'a [Vec<usize>],
    pub test: &'a TestSet,
    pub seed: u64,
    pub device: &'a Device,
}

/// What the sweep produces, in the result file's shapes.
pub struct SweepOutcome {
    pub robustness: Robustness,
    pub per_class: PerClass,
    pub distance: Distance,
}

/// Runs every cell of [`plan`], reporting each one, then the distances.
pub async fn run<D: Driver>(inputs: &SweepInputs<'_>, driver: &mut D) -> Result<SweepOutcome, EngineError> {
    let model = inputs.model;
    let units = model.units.len();
    let ckpts = inputs.checkpoints.len();
    let unit_names = model.unit_names();
    let rerandomized: Vec<Vec<(usize, Tensor<1>)>> = (0..units)
        .map(|u| units::rerandomized_unit(model, u, inputs.seed, inputs.device))
        .collect();

    let cells = plan(units, ckpts, inputs.joint_sets.len());
    let total = cells.len();
    driver.event(Event::SweepStarted { cells: total });

    let mut robustness = Robustness {
        rerandomized: vec![0.0; units],
        reinitialized: vec![vec![0.0; ckpts]; units],
        full_model: vec![0.0; ckpts],
        joint: Vec::new(),
        joint_rerandomized: Vec::new(),
    };
    let mut per_class = PerClass {
        trained: Vec::new(),
        rerandomized: vec![Vec::new(); units],
        reinitialized: vec![vec![Vec::new(); ckpts]; units],
        full_model: vec![Vec::new(); ckpts],
    };
    let set_names = |set: usize| -> Vec<String> {
        inputs.joint_sets[set]
            .iter()
            .map(|&u| unit_names[u].clone())
            .collect()
    };

    for (done, cell) in cells.iter().enumerate() {
        let weights = match cell {
            Cell::Rerandomized { unit } => units::with_replacements(inputs.trained, &rerandomized[*unit]),
            Cell::Reinitialized { unit, checkpoint } => units::with_units_from(
                model,
                inputs.trained,
                &[*unit],
                &inputs.checkpoints[*checkpoint].1,
            ),
            Cell::FullModel { checkpoint } => inputs.checkpoints[*checkpoint].1.clone(),
            Cell::Joint { set, checkpoint } => units::with_units_from(
                model,
                inputs.trained,
                &inputs.joint_sets[*set],
                &inputs.checkpoints[*checkpoint].1,
            ),
            Cell::JointRerandomized { set } => {
                let replacements: Vec<(usize, Tensor<1>)> = inputs.joint_sets[*set]
                    .iter()
                    .flat_map(|&u| rerandomized[u].iter().cloned())
                    .collect();
                units::with_replacements(inputs.trained, &replacements)
            }
        };
        let evaluation = metrics::evaluate(model, &weights, inputs.test)
            .await
            .map_err(EngineError::Device)?;
        match cell {
            Cell::Rerandomized { unit } => {
                robustness.rerandomized[*unit] = evaluation.error;
                per_class.rerandomized[*unit] = evaluation.per_class;
            }
            Cell::Reinitialized { unit, checkpoint } => {
                robustness.reinitialized[*unit][*checkpoint] = evaluation.error;
                per_class.reinitialized[*unit][*checkpoint] = evaluation.per_class;
            }
            Cell::FullModel { checkpoint } => {
                robustness.full_model[*checkpoint] = evaluation.error;
                per_class.full_model[*checkpoint] = evaluation.per_class;
            }
            Cell::Joint { set, checkpoint } => robustness.joint.push(JointRecord {
                units: set_names(*set),
                checkpoint: inputs.checkpoints[*checkpoint].0,
                test_error: evaluation.error,
            }),
            Cell::JointRerandomized { set } => robustness.joint_rerandomized.push(JointRerandomized {
                units: set_names(*set),
                test_error: evaluation.error,
            }),
        }
        driver.event(Event::SweepCell {
            done: done + 1,
            total,
            cell: cell.clone(),
            test_error: evaluation.error,
        });
        driver.pause().await;
    }

    // Distances: every (unit, checkpoint) pair and every re-randomized draw, read in one go.
    let mut terms = Vec::with_capacity(units * (ckpts + 1));
    for (unit, fresh_unit) in rerandomized.iter().enumerate() {
        for (_, weights) in inputs.checkpoints {
            terms.push(unit_distance_terms(model, unit, weights, inputs.initial));
        }
        let fresh = units::with_replacements(inputs.initial, fresh_unit);
        terms.push(unit_distance_terms(model, unit, &fresh, inputs.initial));
    }
    let values = metrics::read_floats(Tensor::cat(terms, 0))
        .await
        .map_err(EngineError::Device)?;
    let mut distance = Distance {
        l2_relative: vec![vec![0.0; ckpts]; units],
        linf: vec![vec![0.0; ckpts]; units],
        rerandomized_l2_relative: vec![0.0; units],
        rerandomized_linf: vec![0.0; units],
    };
    for unit in 0..units {
        for c in 0..=ckpts {
            let at = (unit * (ckpts + 1) + c) * 3;
            let (l2, linf) = distance_from_terms(&values[at..at + 3]);
            if c < ckpts {
                distance.l2_relative[unit][c] = l2;
                distance.linf[unit][c] = linf;
            } else {
                distance.rerandomized_l2_relative[unit] = l2;
                distance.rerandomized_linf[unit] = linf;
            }
        }
    }
    Ok(SweepOutcome {
        robustness,
        per_class,
        distance,
    })
}
