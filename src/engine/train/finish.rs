//! After training: the reset sweep and the result file, for a fresh run or one restored from
//! its journal (`resume_experiment`).

use super::*;

/// Everything the sweep and the result file need once training is over (or restored).
pub(super) struct Finish<'a> {
    pub config: &'a ExperimentConfig,
    pub model: &'a Model,
    pub test: &'a TestSet,
    pub initial: &'a Weights,
    pub checkpoints: &'a [(usize, Weights)],
    pub trained: &'a Weights,
    pub joint_sets: &'a [Vec<usize>],
    pub summary: TrainingSummary,
    pub class_names: Vec<String>,
    pub backend: &'a str,
    pub device: &'a Device,
    /// Sweep cells already evaluated (a resumed run, or checkpoint 0 evaluated before training):
    /// `(plan index, evaluation)`.
    pub done: &'a [(usize, Evaluation)],
}

/// The sweep, then the result file.
pub(super) async fn finish<D: Driver>(f: Finish<'_>, driver: &mut D) -> Result<ResultFile, EngineError> {
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
            alphas: &f.config.interpolation,
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
            sweep::plan_len(shape(f.config, f.model, f.checkpoints.len(), f.joint_sets.len()))
        ));
    }
    let interpolation = (!f.config.interpolation.is_empty()).then(|| {
        result::Interpolation::new(
            f.config.interpolation.clone(),
            outcome.interpolated,
            baseline.error,
            result::DEFAULT_THRESHOLD,
        )
    });
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
        interpolation,
        seed_runs: Vec::new(),
        seed_summary: None,
        study: None,
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
    /// A multi-seed run: the results of the seeds already finished, in order; the rest of
    /// the store is the seed after them (no checkpoint: it had not started).
    pub seeds: Vec<ResultFile>,
}

/// Finishes a run from what was stored: the sweep resumes where it stopped (cells already
/// evaluated are not evaluated again). When training had not ended, the sweep uses the last
/// stored checkpoint as the trained model, as a stopped run does. Stored values are checked
/// against the model's layout first: a damaged store is an error, not a panic. A multi-seed
/// run keeps its finished seeds, finishes the one in progress and runs the rest.
pub async fn resume_experiment<D: Driver>(
    config: &ExperimentConfig,
    data: &DataSplit,
    device: &Device,
    backend: &str,
    mut stored: StoredRun,
    driver: &mut D,
) -> Result<ResultFile, EngineError> {
    if config.seeds.is_empty() {
        if !stored.seeds.is_empty() {
            return Err(EngineError::Stored("it holds seeds of a multi-seed run".into()));
        }
        return resume_one(config, data, device, backend, stored, driver).await;
    }
    let finished = std::mem::take(&mut stored.seeds);
    if finished.len() > config.seeds.len() {
        return Err(EngineError::Stored("it holds more seeds than the run has".into()));
    }
    for (result, &seed) in finished.iter().zip(&config.seeds) {
        let fits = result.config.clone().canonical() == config.for_seed(seed).canonical()
            && result.check_shape().is_ok()
            && result.seed_runs.is_empty();
        if !fits {
            return Err(EngineError::Stored(format!(
                "its result for seed {seed} is not this run's"
            )));
        }
    }
    let in_progress = (!stored.checkpoints.is_empty()).then_some(stored);
    if in_progress.is_some() && finished.len() == config.seeds.len() {
        return Err(EngineError::Stored("it holds a seed after the last one".into()));
    }
    super::run_seeds(config, data, device, backend, finished, in_progress, driver).await
}

/// [`resume_experiment`] for one seed.
pub(super) async fn resume_one<D: Driver>(
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
    let plan_len = sweep::plan_len(shape(config, &model, stored.checkpoints.len(), joint_sets.len()));
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
