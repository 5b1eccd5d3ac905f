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
use burn::tensor::{Device, Tensor, TensorData};
use std::future::Future;
use web_time::Instant;

mod finish;
mod loss;
pub mod profile;
mod warm_up;
pub use warm_up::prepare_kernels;

use finish::{Finish, finish, resume_one};
pub use finish::{StoredRun, resume_experiment};
use loss::batch_loss;

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
    /// When the host began the run's device work ahead of the engine (the page creates the
    /// kernels while the data downloads: [`prepare_kernels`]): the time to the first step counts
    /// from there, download included. Taken by the first seed's run; `None` (the default): from
    /// the engine's own start of device work.
    fn take_started_at(&mut self) -> Option<Instant> {
        None
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
    /// A multi-seed run finished seed number `index` (0-based, in the config's order): what
    /// was stored for that seed's training and sweep is no longer needed, this result is.
    Seed { index: usize, result: &'a ResultFile },
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

/// The shape of a run's sweep plan.
fn shape(
    config: &ExperimentConfig,
    model: &Model,
    checkpoints: usize,
    joint_sets: usize,
) -> sweep::PlanShape {
    sweep::PlanShape {
        units: model.units.len(),
        checkpoints,
        joint_sets,
        alphas: config.interpolation.len(),
    }
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

/// Trains, checkpoints, sweeps, and returns the result file; a config with `seeds` does so for
/// each seed and returns their combined result.
pub async fn run_experiment<D: Driver>(
    config: &ExperimentConfig,
    data: &DataSplit,
    device: &Device,
    backend: &str,
    driver: &mut D,
) -> Result<ResultFile, EngineError> {
    if config.seeds.is_empty() {
        run_one(config, data, device, backend, driver).await
    } else {
        run_seeds(config, data, device, backend, Vec::new(), None, driver).await
    }
}

/// A multi-seed run from seed number `finished.len()` on: the seed in progress (when `resume`
/// holds it) is finished from what was stored, the others run from the start. A seed that was
/// stopped (not one that diverged) ends the run; the result holds the seeds done.
async fn run_seeds<D: Driver>(
    config: &ExperimentConfig,
    data: &DataSplit,
    device: &Device,
    backend: &str,
    mut finished: Vec<ResultFile>,
    mut resume: Option<StoredRun>,
    driver: &mut D,
) -> Result<ResultFile, EngineError> {
    check_inputs(config, data)?;
    let count = config.seeds.len();
    for index in finished.len()..count {
        let seed = config.seeds[index];
        let single = config.for_seed(seed);
        driver.event(Event::Seed { index, count, seed });
        let result = match resume.take() {
            Some(stored) => resume_one(&single, data, device, backend, stored, driver).await?,
            None => run_one(&single, data, device, backend, driver).await?,
        };
        driver
            .persist(Persist::Seed {
                index,
                result: &result,
            })
            .await;
        let stopped = result.was_stopped();
        finished.push(result);
        if stopped {
            break;
        }
    }
    Ok(result::combine_seeds(config, finished))
}

/// `weights` (one a tensor of `model`) as a training step takes them: the trainable ones as
/// autodiff leaves, the running statistics as they are.
fn on_graph(model: &Model, weights: impl IntoIterator<Item = Tensor<1>>) -> Vec<Tensor<1>> {
    weights
        .into_iter()
        .zip(&model.tensors)
        .map(|(t, spec)| {
            if spec.role.trainable() {
                t.autodiff().require_grad()
            } else {
                t
            }
        })
        .collect()
}

/// One seed's run: trains, checkpoints, sweeps, and returns its result file.
async fn run_one<D: Driver>(
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

    // The clock of the time to the first step starts before checkpoint 0's evaluation: on a GPU
    // that evaluation compiles the forward kernels, which a run without it would compile in its
    // first step (TF.js's first step, which the bench compares with, compiles them all). Where
    // the host created the kernels while the data downloaded, it starts there.
    let device_work_started = driver.take_started_at().unwrap_or_else(Instant::now);
    warm_up::warm_up(config, &model, batch, device, async || {}).await?;
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
    let mut params = on_graph(&model, initial.iter().cloned());
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

    let normalization = train.kind.normalization();
    let example_len = train.example_len();
    let mut history = Vec::new();
    let mut notes = Vec::new();
    let started = Instant::now();
    let mut step_seconds = 0.0;
    let mut examples_seen = 0usize;
    let mut done_steps = 0usize;
    let mut stopped = false;
    let mut diverged: Option<Divergence> = None;
    let mut trained_epochs = 0.0;
    let mut first_step_seconds = 0.0;
    // The end of the first step on the training clock (`started`), for the steady throughput.
    let mut first_step_end = 0.0;
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
            // A fresh buffer each step, handed to the tensor (a kept one was copied in).
            let mut pixels = Vec::with_capacity(n * example_len);
            train.gather_normalised(
                chunk,
                &normalization,
                config.augment.then_some(&mut augment_rng),
                &mut pixels,
            );
            let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, example_len]), device); // [n, c*h*w]
            let labels: Vec<i64> = chunk.iter().map(|&i| train.labels[i] as i64).collect();

            let forward = model.forward(&params, x, Mode::Train);
            let loss = batch_loss(forward.logits, &labels, device).await?;
            optimizer.backward_step(loss.objective, &mut params, &model.tensors, lr);
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
                    first_step_seconds = device_work_started.elapsed().as_secs_f64();
                    first_step_end = started.elapsed().as_secs_f64();
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
        steady_samples_per_second: if examples_seen > first_step_examples && step_seconds > first_step_end {
            (examples_seen - first_step_examples) as f64 / (step_seconds - first_step_end)
        } else {
            0.0
        },
    };
    let trained: Weights = params.iter().map(|p| p.clone().inner()).collect();
    drop(params);
    let evaluated: Vec<(usize, Evaluation)> = match checkpoints.first() {
        Some((0, _)) => sweep::plan(shape(config, &model, checkpoints.len(), joint_sets.len()))
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
