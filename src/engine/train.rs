//! The experiment: training with checkpoints, then the reset sweep, then the result file.
//!
//! One async function drives it all, so the same code runs natively (blocked on by the CLI)
//! and in the browser (awaited in a worker, yielding to the event loop between steps). The
//! caller supplies a [`Driver`]: where progress goes, whether to stop, and how to yield.

use crate::engine::config::ExperimentConfig;
use crate::engine::data::{DataError, DataSplit, Dataset};
pub use crate::engine::events::Event;
use crate::engine::metrics::{self, Evaluation, TestSet};
use crate::engine::models::{BN_MOMENTUM, Mode, Model, Role};
use crate::engine::optim::Optimizer;
pub use crate::engine::result::TrainingSummary;
use crate::engine::result::{self, Divergence, EpochRecord, ResultFile, Timing};
use crate::engine::rng::{Rng, Stream};
use crate::engine::sweep::{self, SweepInputs};
use crate::engine::units::{self, Weights};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::future::Future;
use web_time::Instant;

/// The host of a run.
pub trait Driver {
    fn event(&mut self, event: Event);
    /// Polled before every training step and every sweep cell. `true` ends the phase under way:
    /// training (the sweep then runs on what was trained) or the sweep (the cells done so far
    /// are kept). A host answers `true` once per stop request, so one request ends one phase.
    fn stop_requested(&mut self) -> bool;
    /// Gives the host a chance to run (the browser's event loop); natively nothing.
    fn pause(&mut self) -> impl Future<Output = ()>;
    /// Offers the host what it needs to finish the run after a crash or a reload (the page
    /// keeps it in IndexedDB); natively nothing.
    fn persist(&mut self, point: Persist<'_>) -> impl Future<Output = ()> {
        let _ = point;
        async {}
    }
}

/// The moments a run's state is offered to [`Driver::persist`].
pub enum Persist<'a> {
    /// A checkpoint was saved (epoch 0: the initial weights), with training so far.
    Checkpoint {
        epoch: usize,
        weights: &'a Weights,
        summary: &'a TrainingSummary,
    },
    /// Training ended: `weights` are what the sweep resets from.
    Trained {
        weights: &'a Weights,
        summary: &'a TrainingSummary,
    },
    /// A sweep cell was evaluated (`index` in [`sweep::plan`]'s order).
    Cell {
        index: usize,
        evaluation: &'a Evaluation,
    },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] crate::engine::config::ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("unknown unit '{name}'; this model's units are {available}")]
    UnknownUnit { name: String, available: String },
    #[error("the data set is {found} but the config asks for {expected}")]
    WrongDataset { expected: String, found: String },
    #[error("the device failed: {0}")]
    Device(String),
    #[error("the stored run cannot be finished: {0}")]
    Stored(String),
}

/// Mean cross-entropy of `logits: [n, classes]` against `labels: [n]`, on the device.
fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let n = labels.dims()[0];
    log_softmax(logits, 1)
        .gather(1, labels.reshape([n, 1]))
        .mean()
        .neg()
}

/// The batch's loss, two ways: what to call `backward` on, and its value (no autodiff graph).
struct BatchLoss {
    objective: Tensor<1>,
    value: Tensor<1>,
}

/// The batch loss on the device (WebGPU), or on the host for the CPU backend.
///
/// On the CPU the logits are already in host memory, and the device path's `exp` and `ln` are the
/// platform's: glibc's natively and the Rust runtime's in wasm, which round 0.4% of all floats
/// differently. SGD amplifies a last-bit difference into different verdicts, so on the CPU the
/// softmax goes through `libm` (the same code on every target) and the device only sees
/// `sum(logits ⊙ g)`, whose gradient with respect to the logits is exactly `g`, the host's
/// `(softmax − one_hot) / n`.
async fn batch_loss(
    logits: Tensor<2>, // [n, classes]
    labels: &[i64],
    device: &Device,
) -> Result<BatchLoss, EngineError> {
    if *device != Device::flex() {
        let n = labels.len();
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [n]), device); // [n]
        let loss = cross_entropy(logits, y);
        let value = loss.clone().inner();
        return Ok(BatchLoss {
            objective: loss,
            value,
        });
    }
    let [n, classes] = logits.dims();
    let values = metrics::read_floats(logits.clone().inner().reshape([n * classes]))
        .await
        .map_err(EngineError::Device)?;
    let (loss, seed) = host_cross_entropy(&values, labels, classes);
    let seed = Tensor::<2>::from_data(TensorData::new(seed, [n, classes]), &logits.device()); // [n, classes]
    Ok(BatchLoss {
        objective: (logits * seed).sum(),
        value: Tensor::<1>::from_data(TensorData::new(vec![loss], [1]), device),
    })
}

/// Mean cross-entropy of row-major `logits: [n, classes]` and its gradient with respect to the
/// logits, in f64 with `libm` (log-sum-exp from each row's maximum). A label outside the classes
/// counts as an infinite loss rather than a panic.
fn host_cross_entropy(logits: &[f32], labels: &[i64], classes: usize) -> (f32, Vec<f32>) {
    let n = labels.len();
    let mut gradient = vec![0f32; logits.len()];
    let mut total = 0f64;
    for (row, (xs, &label)) in logits.chunks_exact(classes).zip(labels).enumerate() {
        let max = xs.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
        let sum: f64 = xs.iter().map(|&x| libm::exp(x as f64 - max)).sum();
        let log_sum = max + libm::log(sum);
        let target = usize::try_from(label).ok().filter(|&l| l < classes);
        total += target.map_or(f64::INFINITY, |l| log_sum - xs[l] as f64);
        for (j, &x) in xs.iter().enumerate() {
            let one_hot = if Some(j) == target { 1.0 } else { 0.0 };
            gradient[row * classes + j] = ((libm::exp(x as f64 - log_sum) - one_hot) / n as f64) as f32;
        }
    }
    ((total / n as f64) as f32, gradient)
}

/// Checks the config against the model and the data; returns the joint sets as unit indices.
fn resolve_joint(config: &ExperimentConfig, model: &Model) -> Result<Vec<Vec<usize>>, EngineError> {
    config
        .joint
        .iter()
        .map(|set| {
            set.iter()
                .map(|name| {
                    model.unit_index(name).ok_or_else(|| EngineError::UnknownUnit {
                        name: name.clone(),
                        available: model.unit_names().join(", "),
                    })
                })
                .collect()
        })
        .collect()
}

/// The config is valid and the data is the set it names.
fn check_inputs(config: &ExperimentConfig, data: &DataSplit) -> Result<(), EngineError> {
    config.validate()?;
    if data.train.kind != config.dataset {
        return Err(EngineError::WrongDataset {
            expected: config.dataset.name().into(),
            found: data.train.kind.name().into(),
        });
    }
    Ok(())
}

/// Trains, checkpoints, sweeps, and returns the result file.
pub async fn run_experiment<D: Driver>(
    config: &ExperimentConfig,
    data: &DataSplit,
    device: &Device,
    backend: &str,
    driver: &mut D,
) -> Result<ResultFile, EngineError> {
    check_inputs(config, data)?;
    let train: &Dataset = &data.train;
    let n_train = config.train_limit.map_or(train.len(), |l| l.min(train.len()));
    let test_data = data.test.clone().truncated(config.test_limit);
    let model = Model::new(
        config.architecture(),
        config.dataset.image_shape(),
        train.num_classes(),
    );
    let joint_sets = resolve_joint(config, &model)?;
    let test = TestSet::upload(&test_data, config.eval_batch_size, device);
    let has_norm = model.tensors.iter().any(|t| t.role == Role::RunningMean);

    let batch = config.batch_size.min(n_train);
    let steps_per_epoch = n_train.div_ceil(batch);
    let total_steps = steps_per_epoch * config.epochs;
    driver.event(Event::Started {
        units: model.unit_names(),
        parameter_count: model.parameter_count(),
        train_examples: n_train,
        test_examples: test.len,
        steps_per_epoch,
        total_steps,
    });

    let initial = units::initial_weights(&model, config.seed, device);
    // Test error before any training: the curve starts at epoch 0, and the sweep's full-model
    // cell at checkpoint 0 (the same weights) takes this evaluation rather than repeating it.
    let initial_evaluation = metrics::evaluate(&model, &initial, &test)
        .await
        .map_err(EngineError::Device)?;
    let initial_test_error = initial_evaluation.error;
    driver.event(Event::Epoch(EpochRecord {
        epoch: 0,
        train_loss: f32::NAN,
        test_error: initial_test_error,
    }));
    let mut params: Vec<Tensor<1>> = initial
        .iter()
        .zip(&model.tensors)
        .map(|(t, spec)| {
            if spec.role.trainable() {
                t.clone().autodiff().require_grad()
            } else {
                t.clone()
            }
        })
        .collect();
    let mut optimizer = Optimizer::new(
        config.optimizer,
        config.momentum,
        config.weight_decay,
        params.len(),
    );
    let mut checkpoints: Vec<(usize, Weights)> = Vec::new();
    if config.checkpoints.contains(&0) {
        checkpoints.push((0, initial.clone()));
        driver.event(Event::Checkpoint { epoch: 0 });
        driver
            .persist(Persist::Checkpoint {
                epoch: 0,
                weights: &initial,
                summary: &TrainingSummary::so_far(&[], &[], &[], 0.0, n_train, 0.0, initial_test_error),
            })
            .await;
    }

    let tables = train.kind.normalization().lookup_tables();
    let example_len = train.example_len();
    let mut history = Vec::new();
    let mut notes = Vec::new();
    let mut pixels = Vec::with_capacity(batch * example_len);
    let started = Instant::now();
    let mut step_seconds = 0.0;
    let mut examples_seen = 0usize;
    let mut done_steps = 0usize;
    let mut stopped = false;
    let mut diverged: Option<Divergence> = None;
    let mut trained_epochs = 0.0;
    let mut first_step_seconds = 0.0;
    let mut first_step_examples = 0usize;
    let mut loss_curve: Vec<(f64, f32)> = Vec::new();
    // The stored curve follows the config alone (not the host's read-back interval), so the page
    // and the CLI write identical results.
    let curve_every = crate::engine::events::loss_window(total_steps);

    let mut window_sum: Option<Tensor<1>> = None;
    let mut window_examples = 0usize;

    'epochs: for epoch in 0..config.epochs {
        let lr = config.lr_at(epoch);
        let mut order: Vec<usize> = (0..n_train).collect();
        Rng::derive(config.seed, Stream::Shuffle, epoch as u64, 0).shuffle(&mut order);
        let mut augment_rng = Rng::derive(config.seed, Stream::Augment, epoch as u64, 0);
        let mut loss_sum: Option<Tensor<1>> = None;
        let mut epoch_examples = 0usize;
        let epoch_start = Instant::now();
        for chunk in order.chunks(batch) {
            if driver.stop_requested() {
                stopped = true;
                trained_epochs = epoch as f64 + epoch_examples as f64 / n_train as f64;
                step_seconds += epoch_start.elapsed().as_secs_f64();
                break 'epochs;
            }
            // Batch norm needs at least two examples for its batch statistics.
            if has_norm && chunk.len() < 2 {
                continue;
            }
            let n = chunk.len();
            pixels.clear();
            train.gather_normalised(
                chunk,
                &tables,
                config.augment.then_some(&mut augment_rng),
                &mut pixels,
            );
            let x = Tensor::<2>::from_data(TensorData::new(pixels.clone(), [n, example_len]), device); // [n, c*h*w]
            let labels: Vec<i64> = chunk.iter().map(|&i| train.labels[i] as i64).collect();

            let forward = model.forward(&params, x, Mode::Train);
            let loss = batch_loss(forward.logits, &labels, device).await?;
            let mut grads = loss.objective.backward();
            optimizer.step(&mut params, &model.tensors, &mut grads, lr);
            for stats in forward.batch_stats {
                let m = BN_MOMENTUM;
                let unbiased = stats.count as f32 / (stats.count.max(2) - 1) as f32;
                params[stats.mean_index] =
                    params[stats.mean_index].clone().mul_scalar(1.0 - m) + stats.mean.inner().mul_scalar(m);
                params[stats.var_index] = params[stats.var_index].clone().mul_scalar(1.0 - m)
                    + stats.var.inner().mul_scalar(m * unbiased);
            }
            let weighted = loss.value.mul_scalar(n as f32);
            loss_sum = Some(match loss_sum {
                Some(s) => s + weighted.clone(),
                None => weighted.clone(),
            });
            window_sum = Some(match window_sum {
                Some(s) => s + weighted,
                None => weighted,
            });
            epoch_examples += n;
            examples_seen += n;
            window_examples += n;
            done_steps += 1;
            // The curve's points come every `curve_every` steps (and at the first step, which
            // times kernel compilation: first_step_seconds). Each is the mean loss of the steps
            // since the previous point, a window that runs across epoch boundaries, so the curve
            // has no cliff where an epoch's running mean would restart. The points are the only
            // loss read-backs, and the config alone places them, so the page and the CLI write
            // the same curve and judge divergence at the same step.
            if done_steps == 1 || done_steps.is_multiple_of(curve_every) {
                let window = window_sum.take().expect("set above");
                let mean = metrics::read_floats(window).await.map_err(EngineError::Device)?[0]
                    / window_examples as f32;
                window_examples = 0;
                let point = (epoch as f64 + epoch_examples as f64 / n_train as f64, mean);
                let diverges = !point.1.is_finite();
                loss_curve.push(point);
                driver.event(Event::Loss {
                    epoch_progress: point.0,
                    loss: point.1,
                });
                if done_steps == 1 {
                    first_step_seconds = started.elapsed().as_secs_f64();
                    first_step_examples = n;
                }
                if diverges {
                    diverged = Some(Divergence {
                        epoch: epoch + 1,
                        step: done_steps,
                    });
                    trained_epochs = point.0;
                    step_seconds += epoch_start.elapsed().as_secs_f64();
                    break 'epochs;
                }
            }
            let elapsed = step_seconds + epoch_start.elapsed().as_secs_f64();
            driver.event(Event::Step {
                epoch: epoch + 1,
                done_steps,
                total_steps,
                samples_per_second: examples_seen as f64 / elapsed.max(1e-9),
            });
            driver.pause().await;
        }
        let train_loss = match loss_sum {
            Some(sum) => {
                metrics::read_floats(sum).await.map_err(EngineError::Device)?[0]
                    / epoch_examples.max(1) as f32
            }
            None => f32::NAN,
        };
        step_seconds += epoch_start.elapsed().as_secs_f64();
        trained_epochs = (epoch + 1) as f64;
        if !train_loss.is_finite() {
            diverged = Some(Divergence {
                epoch: epoch + 1,
                step: done_steps,
            });
            loss_curve.push(((epoch + 1) as f64, train_loss));
            break;
        }

        let weights: Weights = params.iter().map(|p| p.clone().inner()).collect();
        let evaluation = metrics::evaluate(&model, &weights, &test)
            .await
            .map_err(EngineError::Device)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss,
            test_error: evaluation.error,
        };
        history.push(record.clone());
        driver.event(Event::Epoch(record));
        if config.checkpoints.contains(&(epoch + 1)) {
            driver.event(Event::Checkpoint { epoch: epoch + 1 });
            driver
                .persist(Persist::Checkpoint {
                    epoch: epoch + 1,
                    weights: &weights,
                    summary: &TrainingSummary::so_far(
                        &history,
                        &loss_curve,
                        &notes,
                        trained_epochs,
                        n_train,
                        started.elapsed().as_secs_f64(),
                        initial_test_error,
                    ),
                })
                .await;
            checkpoints.push((epoch + 1, weights));
        }
        driver.pause().await;
    }
    // The last window, when it is long enough to be as smooth as the others.
    if let Some(window) = window_sum.take()
        && diverged.is_none()
        && window_examples * 2 >= curve_every * batch
    {
        let mean =
            metrics::read_floats(window).await.map_err(EngineError::Device)?[0] / window_examples as f32;
        loss_curve.push((trained_epochs, mean));
    }
    let train_seconds = started.elapsed().as_secs_f64();
    if let Some(d) = &diverged {
        notes.push(format!(
            "training diverged in epoch {} at step {} (the loss is not finite) and stopped there; \
             sweep cells computed from non-finite weights are marked as not computed. Try a lower \
             learning rate.",
            d.epoch, d.step
        ));
    } else if stopped && trained_epochs < config.epochs as f64 {
        notes.push(format!(
            "stopped after {trained_epochs:.2} of {} epochs; the sweep used the weights at that point",
            config.epochs
        ));
    }
    if checkpoints.is_empty() {
        checkpoints.push((0, initial.clone()));
        notes.push(
            "no configured checkpoint was reached; checkpoint 0 (the initial weights) was added".into(),
        );
    }
    let summary = TrainingSummary {
        history,
        loss_curve,
        notes,
        trained_epochs,
        stopped: stopped || diverged.is_some(),
        diverged,
        train_examples: n_train,
        initial_test_error: Some(initial_test_error),
        train_seconds,
        samples_per_second: examples_seen as f64 / step_seconds.max(1e-9),
        first_step_seconds,
        steady_samples_per_second: if examples_seen > first_step_examples && step_seconds > first_step_seconds
        {
            (examples_seen - first_step_examples) as f64 / (step_seconds - first_step_seconds)
        } else {
            0.0
        },
    };
    let trained: Weights = params.iter().map(|p| p.clone().inner()).collect();
    drop(params);
    let evaluated: Vec<(usize, Evaluation)> = match checkpoints.first() {
        Some((0, _)) => sweep::plan(model.units.len(), checkpoints.len(), joint_sets.len())
            .iter()
            .position(|c| *c == sweep::Cell::FullModel { checkpoint: 0 })
            .map(|index| (index, initial_evaluation))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    driver
        .persist(Persist::Trained {
            weights: &trained,
            summary: &summary,
        })
        .await;
    finish(
        Finish {
            config,
            model: &model,
            test: &test,
            initial: &initial,
            checkpoints: &checkpoints,
            trained: &trained,
            joint_sets: &joint_sets,
            summary,
            class_names: train.class_names.clone(),
            backend,
            device,
            done: &evaluated,
        },
        driver,
    )
    .await
}

/// Everything the sweep and the result file need once training is over (or restored).
struct Finish<'a> {
    config: &'a ExperimentConfig,
    model: &'a Model,
    test: &'a TestSet,
    initial: &'a Weights,
    checkpoints: &'a [(usize, Weights)],
    trained: &'a Weights,
    joint_sets: &'a [Vec<usize>],
    summary: TrainingSummary,
    class_names: Vec<String>,
    backend: &'a str,
    device: &'a Device,
    /// Sweep cells already evaluated (a resumed run, or checkpoint 0 evaluated before training):
    /// `(plan index, evaluation)`.
    done: &'a [(usize, Evaluation)],
}

/// The sweep, then the result file.
async fn finish<D: Driver>(f: Finish<'_>, driver: &mut D) -> Result<ResultFile, EngineError> {
    let sweep_started = Instant::now();
    let baseline = metrics::evaluate_if_finite(f.model, f.trained, f.test)
        .await
        .map_err(EngineError::Device)?;
    let outcome = sweep::run(
        &SweepInputs {
            model: f.model,
            trained: f.trained,
            initial: f.initial,
            checkpoints: f.checkpoints,
            joint_sets: f.joint_sets,
            test: f.test,
            seed: f.config.seed,
            device: f.device,
            done: f.done,
        },
        driver,
    )
    .await?;
    let sweep_seconds = sweep_started.elapsed().as_secs_f64();
    let mut summary = f.summary;
    if let Some(done) = outcome.cells_done {
        summary.notes.push(format!(
            "the sweep was stopped after {done} of {} cells; the others are not computed",
            sweep::plan(f.model.units.len(), f.checkpoints.len(), f.joint_sets.len()).len()
        ));
    }
    let mut per_class = outcome.per_class;
    per_class.trained = baseline.per_class;

    Ok(ResultFile {
        format: result::FORMAT.into(),
        version: result::VERSION,
        config: f.config.clone(),
        units: f.model.unit_names(),
        checkpoints: f.checkpoints.iter().map(|(e, _)| *e).collect(),
        final_test_error: baseline.error,
        history: summary.history,
        robustness: outcome.robustness,
        distance: outcome.distance,
        timing: Timing {
            train_seconds: summary.train_seconds,
            sweep_seconds,
            samples_per_second: summary.samples_per_second,
            backend: f.backend.into(),
            first_step_seconds: summary.first_step_seconds,
            steady_samples_per_second: summary.steady_samples_per_second,
        },
        class_names: f.class_names,
        per_class,
        trained_epochs: summary.trained_epochs,
        stopped_early: summary.stopped,
        train_examples: summary.train_examples,
        test_examples: f.test.len,
        parameter_count: f.model.parameter_count(),
        notes: summary.notes,
        class_counts: f.test.class_counts.clone(),
        loss_curve: summary.loss_curve,
        sweep_cells_done: outcome.cells_done,
        diverged: summary.diverged,
        initial_test_error: summary.initial_test_error,
    })
}

/// What a host kept of an interrupted run (see [`Persist`]), as plain values.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRun {
    /// `(epoch, every tensor's values in layout order)`, in epoch order.
    pub checkpoints: Vec<(usize, Vec<Vec<f32>>)>,
    /// The weights training ended with, when it did end.
    pub trained: Option<Vec<Vec<f32>>>,
    /// Training as of the last thing stored (its end, or the last checkpoint).
    pub summary: TrainingSummary,
    /// Sweep cells already evaluated: `(plan index, evaluation)`.
    pub cells: Vec<(usize, Evaluation)>,
}

/// Finishes a run from what was stored: the sweep resumes where it stopped (cells already
/// evaluated are not evaluated again). When training had not ended, the sweep uses the last
/// stored checkpoint as the trained model, as a stopped run does. Stored values are checked
/// against the model's layout first: a damaged store is an error, not a panic.
pub async fn resume_experiment<D: Driver>(
    config: &ExperimentConfig,
    data: &DataSplit,
    device: &Device,
    backend: &str,
    stored: StoredRun,
    driver: &mut D,
) -> Result<ResultFile, EngineError> {
    check_inputs(config, data)?;
    let test_data = data.test.clone().truncated(config.test_limit);
    let model = Model::new(
        config.architecture(),
        config.dataset.image_shape(),
        data.train.num_classes(),
    );
    let joint_sets = resolve_joint(config, &model)?;
    let bad = |m: String| EngineError::Stored(m);
    let check = |values: &[Vec<f32>]| -> Result<(), EngineError> {
        let fits = values.len() == model.tensors.len()
            && values
                .iter()
                .zip(&model.tensors)
                .all(|(v, spec)| v.len() == spec.len());
        if fits {
            Ok(())
        } else {
            Err(bad("its weights do not fit this model".into()))
        }
    };
    if stored.checkpoints.is_empty() || !stored.checkpoints.windows(2).all(|w| w[0].0 < w[1].0) {
        return Err(bad("it holds no checkpoint, or they are out of order".into()));
    }
    let plan_len = sweep::plan(model.units.len(), stored.checkpoints.len(), joint_sets.len()).len();
    let cell_fits = |(i, e): &(usize, Evaluation)| {
        *i < plan_len
            && e.per_class.len() == data.test.num_classes()
            && std::iter::once(&e.error)
                .chain(&e.per_class)
                .all(|&v| result::is_error_value(v))
    };
    if !stored.cells.iter().all(cell_fits) {
        return Err(bad("its sweep cells do not fit this run".into()));
    }
    let upload_all =
        |values: Vec<Vec<f32>>| -> Weights { values.into_iter().map(|v| units::upload(v, device)).collect() };
    let mut checkpoints = Vec::with_capacity(stored.checkpoints.len());
    for (epoch, values) in stored.checkpoints {
        check(&values)?;
        checkpoints.push((epoch, upload_all(values)));
    }
    let mut summary = stored.summary;
    let trained = match stored.trained {
        Some(values) => {
            check(&values)?;
            upload_all(values)
        }
        None => {
            let (epoch, weights) = checkpoints.last().expect("checked above").clone();
            summary.stopped = true;
            summary.trained_epochs = epoch as f64;
            summary.history.retain(|h| h.epoch <= epoch);
            summary.notes.push(format!(
                "the page was closed during training; the sweep used the last stored checkpoint (epoch {epoch})"
            ));
            weights
        }
    };
    if !stored.cells.is_empty() {
        summary.notes.push(format!(
            "finished after the page was reloaded: {} sweep cells came from the stored run",
            stored.cells.len()
        ));
    }
    let test = TestSet::upload(&test_data, config.eval_batch_size, device);
    let initial = units::initial_weights(&model, config.seed, device);
    driver.event(Event::Started {
        units: model.unit_names(),
        parameter_count: model.parameter_count(),
        train_examples: summary.train_examples,
        test_examples: test.len,
        steps_per_epoch: 0,
        total_steps: 0,
    });
    for (epoch, _) in &checkpoints {
        driver.event(Event::Checkpoint { epoch: *epoch });
    }
    finish(
        Finish {
            config,
            model: &model,
            test: &test,
            initial: &initial,
            checkpoints: &checkpoints,
            trained: &trained,
            joint_sets: &joint_sets,
            summary,
            class_names: data.train.class_names.clone(),
            backend,
            device,
            done: &stored.cells,
        },
        driver,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host loss and its gradient agree with burn's `log_softmax` on the device.
    #[test]
    fn host_cross_entropy_matches_the_device_loss_and_gradient() {
        let device = Device::flex();
        let (n, classes) = (5, 4);
        let values: Vec<f32> = (0..n * classes)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.7)
            .collect();
        let labels = vec![0i64, 3, 1, 2, 3];
        let (loss, gradient) = host_cross_entropy(&values, &labels, classes);

        let logits = Tensor::<2>::from_data(TensorData::new(values, [n, classes]), &device)
            .autodiff()
            .require_grad();
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &device);
        let device_loss = cross_entropy(logits.clone(), y);
        let grads = device_loss.backward();
        let device_gradient = logits
            .grad(&grads)
            .expect("gradient")
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let device_loss = device_loss.inner().into_data().try_to_vec::<f32>().unwrap()[0];
        assert!((loss - device_loss).abs() < 1e-5, "{loss} vs {device_loss}");
        for (a, b) in gradient.iter().zip(&device_gradient) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn host_cross_entropy_flags_bad_labels_and_non_finite_logits() {
        let (loss, _) = host_cross_entropy(&[1.0, 2.0], &[7], 2);
        assert_eq!(loss, f32::INFINITY);
        let (loss, _) = host_cross_entropy(&[f32::NAN, 2.0], &[0], 2);
        assert!(loss.is_nan());
    }
}
