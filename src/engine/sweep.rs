//! The reset sweep: for every unit and checkpoint, the trained model with that unit put back to
//! its checkpoint (or re-randomized), evaluated on the test set with no retraining; plus the full
//! model at each checkpoint and any joint sets.

pub use crate::engine::events::{Cell, PlanShape, plan, plan_len};
use crate::engine::metrics::{self, TestSet, distance_from_terms, unit_distance_terms};
use crate::engine::models::Model;
use crate::engine::result::{Distance, JointRecord, JointRerandomized, PerClass, Robustness};
use crate::engine::train::{Driver, EngineError, Event, Persist};
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
    /// α values of the interpolation (module criticality), in increasing order.
    pub alphas: &'a [f64],
    pub test: &'a TestSet,
    pub seed: u64,
    pub device: &'a Device,
    /// Cells already evaluated (a resumed run, or the untrained model at checkpoint 0):
    /// `(plan index, evaluation)`.
    pub done: &'a [(usize, metrics::Evaluation)],
}

impl SweepInputs<'_> {
    /// The shape of this sweep's plan.
    pub fn shape(&self) -> PlanShape {
        PlanShape {
            units: self.model.units.len(),
            checkpoints: self.checkpoints.len(),
            joint_sets: self.joint_sets.len(),
            alphas: self.alphas.len(),
        }
    }
}

/// What the sweep produces, in the result file's shapes.
pub struct SweepOutcome {
    pub robustness: Robustness,
    pub per_class: PerClass,
    pub distance: Distance,
    /// Test error with each unit interpolated, `[unit][alpha]` (empty without α values).
    pub interpolated: Vec<Vec<f64>>,
    /// `Some(k)`: the sweep was stopped after `k` cells.
    pub cells_done: Option<usize>,
}

/// Whether `flags` (one per tensor of the model) holds for every tensor of `units`.
fn every_unit_tensor(model: &Model, units: &[usize], flags: &[bool]) -> bool {
    units
        .iter()
        .flat_map(|&u| &model.units[u].tensors)
        .all(|&t| flags[t])
}

/// Which tensors of each weight set hold only finite values (one read of the device).
struct Finiteness {
    trained: Vec<bool>,
    /// `[checkpoint][tensor]`
    checkpoints: Vec<Vec<bool>>,
}

impl Finiteness {
    async fn of(inputs: &SweepInputs<'_>) -> Result<Self, EngineError> {
        let sets: Vec<&Weights> = std::iter::once(inputs.trained)
            .chain(inputs.checkpoints.iter().map(|(_, w)| w))
            .collect();
        let flags = metrics::finite_flags(&sets).await.map_err(EngineError::Device)?;
        let mut per_set = flags.into_iter();
        Ok(Self {
            trained: per_set.next().expect("the trained weights are the first set"),
            checkpoints: per_set.collect(),
        })
    }

    /// Whether the weights `cell` evaluates are all finite (re-randomized draws always are).
    fn cell(&self, model: &Model, joint_sets: &[Vec<usize>], cell: &Cell) -> bool {
        let trained_outside = |units: &[usize]| {
            self.trained
                .iter()
                .enumerate()
                .all(|(t, &ok)| ok || units.contains(&model.tensors[t].unit))
        };
        let checkpoint_inside =
            |units: &[usize], c: usize| every_unit_tensor(model, units, &self.checkpoints[c]);
        match *cell {
            Cell::Rerandomized { unit } => trained_outside(&[unit]),
            Cell::Reinitialized { unit, checkpoint } => {
                trained_outside(&[unit]) && checkpoint_inside(&[unit], checkpoint)
            }
            Cell::FullModel { checkpoint } => self.checkpoints[checkpoint].iter().all(|&ok| ok),
            Cell::JointRerandomized { set } => trained_outside(&joint_sets[set]),
            Cell::Joint { set, checkpoint } => {
                trained_outside(&joint_sets[set]) && checkpoint_inside(&joint_sets[set], checkpoint)
            }
            // The line runs to the trained weights, so all of them must be finite.
            Cell::Interpolated { .. } => self.trained.iter().all(|&ok| ok),
        }
    }
}

/// Which tensors of each checkpoint are the trained model's own, bit for bit: the last
/// checkpoint is usually the trained model itself, so its column of the map (and the full model
/// there) is the trained model's evaluation, computed once instead of once per unit.
struct SameAsTrained {
    /// `[checkpoint][tensor]`
    checkpoints: Vec<Vec<bool>>,
}

impl SameAsTrained {
    async fn of(inputs: &SweepInputs<'_>) -> Result<Self, EngineError> {
        let sets: Vec<&Weights> = inputs.checkpoints.iter().map(|(_, w)| w).collect();
        let checkpoints = metrics::same_flags(inputs.trained, &sets)
            .await
            .map_err(EngineError::Device)?;
        Ok(Self { checkpoints })
    }

    /// Whether `cell` evaluates exactly the trained weights.
    fn cell(&self, model: &Model, joint_sets: &[Vec<usize>], cell: &Cell) -> bool {
        let units_same = |units: &[usize], c: usize| every_unit_tensor(model, units, &self.checkpoints[c]);
        match *cell {
            Cell::Reinitialized { unit, checkpoint } => units_same(&[unit], checkpoint),
            Cell::FullModel { checkpoint } => self.checkpoints[checkpoint].iter().all(|&same| same),
            Cell::Joint { set, checkpoint } => units_same(&joint_sets[set], checkpoint),
            Cell::Rerandomized { .. } | Cell::JointRerandomized { .. } | Cell::Interpolated { .. } => false,
        }
    }
}

/// Runs every cell of [`plan`], reporting each one, then the distances.
///
/// A cell whose weights are not all finite (a diverged run) is not evaluated: its error is NaN,
/// "not computed", rather than the ~90% that argmax over NaN logits would report. A stop request
/// between cells ends the sweep; the cells done so far are kept and the rest stay NaN.
pub async fn run<D: Driver>(inputs: &SweepInputs<'_>, driver: &mut D) -> Result<SweepOutcome, EngineError> {
    let model = inputs.model;
    let units = model.units.len();
    let ckpts = inputs.checkpoints.len();
    let classes = inputs.test.class_counts.len();
    let unit_names = model.unit_names();
    let rerandomized: Vec<Vec<(usize, Tensor<1>)>> = (0..units)
        .map(|u| units::rerandomized_unit(model, u, inputs.seed, inputs.device))
        .collect();
    let finite = Finiteness::of(inputs).await?;
    let same_as_trained = SameAsTrained::of(inputs).await?;
    // The trained model's evaluation, once a cell that is the trained model has made it.
    let mut trained_evaluation: Option<metrics::Evaluation> = None;

    let cells = plan(inputs.shape());
    let total = cells.len();
    driver.event(Event::SweepStarted { cells: total });

    let set_names = |set: usize| -> Vec<String> {
        inputs.joint_sets[set]
            .iter()
            .map(|&u| unit_names[u].clone())
            .collect()
    };
    let nan_row = vec![f64::NAN; classes];
    let mut robustness = Robustness {
        rerandomized: vec![f64::NAN; units],
        reinitialized: vec![vec![f64::NAN; ckpts]; units],
        full_model: vec![f64::NAN; ckpts],
        joint: (0..inputs.joint_sets.len())
            .flat_map(|set| {
                let names = set_names(set);
                inputs.checkpoints.iter().map(move |(epoch, _)| JointRecord {
                    units: names.clone(),
                    checkpoint: *epoch,
                    test_error: f64::NAN,
                })
            })
            .collect(),
        joint_rerandomized: (0..inputs.joint_sets.len())
            .map(|set| JointRerandomized {
                units: set_names(set),
                test_error: f64::NAN,
            })
            .collect(),
    };
    let mut per_class = PerClass {
        trained: Vec::new(),
        rerandomized: vec![nan_row.clone(); units],
        reinitialized: vec![vec![nan_row.clone(); ckpts]; units],
        full_model: vec![nan_row.clone(); ckpts],
    };

    let mut interpolated = vec![vec![f64::NAN; inputs.alphas.len()]; units];
    let mut cells_done = None;
    // The trained model's activations at the input of the unit whose cells are under way: a
    // unit's cells (ReRnd and every checkpoint) run only the layers from that unit on.
    let mut unit_inputs: Option<metrics::UnitInputs> = None;
    // The unit they were last prepared for: a unit whose inputs are too big to keep is tried once.
    let mut prepared_for: Option<usize> = None;
    for (done, cell) in cells.iter().enumerate() {
        if driver.stop_requested() {
            cells_done = Some(done);
            break;
        }
        let stored = inputs
            .done
            .iter()
            .find(|(i, _)| *i == done)
            .map(|(_, e)| e.clone());
        let is_trained = same_as_trained.cell(model, inputs.joint_sets, cell);
        let evaluation = if let Some(evaluation) = stored {
            evaluation
        } else if let Some(evaluation) = trained_evaluation.as_ref().filter(|_| is_trained) {
            evaluation.clone()
        } else if finite.cell(model, inputs.joint_sets, cell) {
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
                Cell::Interpolated { unit, alpha } => units::with_replacements(
                    inputs.trained,
                    &units::interpolated_unit(
                        model,
                        *unit,
                        inputs.initial,
                        inputs.trained,
                        inputs.alphas[*alpha],
                    ),
                ),
            };
            let reset_unit = match *cell {
                Cell::Rerandomized { unit }
                | Cell::Reinitialized { unit, .. }
                | Cell::Interpolated { unit, .. } => Some(unit),
                _ => None,
            };
            if let Some(unit) = reset_unit
                && prepared_for != Some(unit)
            {
                unit_inputs =
                    metrics::UnitInputs::at(model, inputs.trained, inputs.test, unit, unit_inputs.take());
                prepared_for = Some(unit);
            }
            let start = unit_inputs.as_ref().filter(|at| Some(at.unit) == reset_unit);
            metrics::evaluate_from(model, &weights, inputs.test, start)
                .await
                .map_err(EngineError::Device)?
        } else {
            metrics::Evaluation::not_computed(classes)
        };
        if is_trained && trained_evaluation.is_none() {
            trained_evaluation = Some(evaluation.clone());
        }
        // Every cell, given ones included, so what a host keeps is always a prefix of the plan.
        driver
            .persist(Persist::Cell {
                index: done,
                evaluation: &evaluation,
            })
            .await;
        match *cell {
            Cell::Rerandomized { unit } => {
                robustness.rerandomized[unit] = evaluation.error;
                per_class.rerandomized[unit] = evaluation.per_class;
            }
            Cell::Reinitialized { unit, checkpoint } => {
                robustness.reinitialized[unit][checkpoint] = evaluation.error;
                per_class.reinitialized[unit][checkpoint] = evaluation.per_class;
            }
            Cell::FullModel { checkpoint } => {
                robustness.full_model[checkpoint] = evaluation.error;
                per_class.full_model[checkpoint] = evaluation.per_class;
            }
            Cell::Joint { set, checkpoint } => {
                robustness.joint[set * ckpts + checkpoint].test_error = evaluation.error;
            }
            Cell::JointRerandomized { set } => {
                robustness.joint_rerandomized[set].test_error = evaluation.error
            }
            Cell::Interpolated { unit, alpha } => interpolated[unit][alpha] = evaluation.error,
        }
        driver.event(Event::SweepCell {
            done: done + 1,
            total,
            cell: *cell,
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
        interpolated,
        cells_done,
    })
}
