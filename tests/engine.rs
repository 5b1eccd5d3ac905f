//! The engine on the CPU backend: resets, re-randomization, determinism, and a short real run.

mod common;

use burn::tensor::Device;
use layerlab::engine::ResultFile;
use layerlab::engine::config::ExperimentConfig;
use layerlab::engine::data::files;
use layerlab::engine::metrics::read_floats;
use layerlab::engine::models::{Init, Model};
use layerlab::engine::train::{Driver, Event, run_experiment};
use layerlab::engine::units::{self, Weights};

fn read_all(weights: &Weights) -> Vec<Vec<f32>> {
    weights
        .iter()
        .map(|t| pollster::block_on(read_floats(t.clone())).unwrap())
        .collect()
}

fn config(pairs: &[(&str, &str)]) -> ExperimentConfig {
    ExperimentConfig::from_pairs(pairs.iter().copied()).unwrap()
}

#[derive(Default)]
struct Quiet {
    events: Vec<Event>,
    stop_after_steps: Option<usize>,
    stop_after_cells: Option<usize>,
    steps: usize,
    cells: usize,
}

impl Driver for Quiet {
    fn event(&mut self, event: Event) {
        if matches!(event, Event::Step { .. }) {
            self.steps += 1;
        }
        if matches!(event, Event::SweepCell { .. }) {
            self.cells += 1;
        }
        self.events.push(event);
    }
    fn stop_requested(&mut self) -> bool {
        // One request: answered once, as the page's worker does.
        if self.stop_after_steps.is_some_and(|n| self.steps >= n) {
            self.stop_after_steps = None;
            return true;
        }
        if self.stop_after_cells.is_some_and(|n| self.cells >= n) {
            self.stop_after_cells = None;
            return true;
        }
        false
    }
    async fn pause(&mut self) {}
}

#[test]
fn reset_restores_exactly_the_stored_unit_and_nothing_else() {
    let device = Device::flex();
    for model_name in ["fcn", "vgg11", "resnet18"] {
        let c = config(&[
            ("model", model_name),
            ("width-mult", "0.125"),
            ("depth", "3"),
            ("width", "32"),
        ]);
        let model = Model::new(c.architecture(), c.dataset.image_shape(), 10);
        let checkpoint = units::initial_weights(&model, 1, &device);
        let trained = units::initial_weights(&model, 2, &device);
        let checkpoint_values = read_all(&checkpoint);
        let trained_values = read_all(&trained);
        for unit in [0, model.units.len() / 2, model.units.len() - 1] {
            let reset = units::with_units_from(&model, &trained, &[unit], &checkpoint);
            let values = read_all(&reset);
            for (t, spec) in model.tensors.iter().enumerate() {
                let expected = if spec.unit == unit {
                    &checkpoint_values[t]
                } else {
                    &trained_values[t]
                };
                assert_eq!(
                    &values[t], expected,
                    "{model_name}: {} after resetting unit {unit}",
                    spec.name
                );
            }
        }
        // A joint reset touches exactly the union.
        let joint = units::with_units_from(&model, &trained, &[0, 1], &checkpoint);
        let values = read_all(&joint);
        for (t, spec) in model.tensors.iter().enumerate() {
            let expected = if spec.unit <= 1 {
                &checkpoint_values[t]
            } else {
                &trained_values[t]
            };
            assert_eq!(&values[t], expected);
        }
    }
}

#[test]
fn batch_norm_state_belongs_to_its_unit() {
    let c = config(&[("model", "resnet18"), ("width-mult", "0.125")]);
    let model = Model::new(c.architecture(), c.dataset.image_shape(), 10);
    let block = model.unit_index("stage2.resblk1").unwrap();
    let names: Vec<&str> = model.units[block]
        .tensors
        .iter()
        .map(|&t| model.tensors[t].name.as_str())
        .collect();
    for expected in [
        "stage2.resblk1.bn1.weight",
        "stage2.resblk1.bn1.running_mean",
        "stage2.resblk1.bn1.running_var",
        "stage2.resblk1.conv1.weight",
        "stage2.resblk1.bn2.running_var",
        "stage2.resblk1.conv2.weight",
        "stage2.resblk1.shortcut.weight",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
}

#[test]
fn rerandomization_draws_from_the_units_own_initializer() {
    let device = Device::flex();
    let c = config(&[("model", "fcn")]);
    let model = Model::new(c.architecture(), c.dataset.image_shape(), 10);
    let initial = read_all(&units::initial_weights(&model, 0, &device));
    for unit in 0..model.units.len() {
        let fresh = units::rerandomized_unit(&model, unit, 0, &device);
        assert_eq!(fresh.len(), model.units[unit].tensors.len());
        for (t, value) in fresh {
            let spec = &model.tensors[t];
            let v = pollster::block_on(read_floats(value)).unwrap();
            assert_eq!(v.len(), spec.len());
            assert_ne!(v, initial[t], "the fresh draw must not be the initial one");
            let Init::DefaultUniform { fan_in } = spec.init else {
                panic!("FCN tensors use the default uniform init");
            };
            let bound = 1.0 / (fan_in as f32).sqrt();
            assert!(
                v.iter().all(|x| x.abs() <= bound),
                "{} exceeds ±{bound}",
                spec.name
            );
            let n = v.len() as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let std = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
            let (_, expected_std) = spec.init.moments();
            // Tolerances: a few standard errors of the estimates for this many draws.
            let se = expected_std / n.sqrt();
            assert!(mean.abs() < 5.0 * se, "{}: mean {mean}", spec.name);
            assert!(
                (std / expected_std - 1.0).abs() < 5.0 / (2.0 * n).sqrt() + 0.01,
                "{}: std {std} vs {expected_std}",
                spec.name
            );
        }
    }
    // He-normal units (VGG convolutions) too.
    let c = config(&[("model", "vgg11"), ("width-mult", "0.5")]);
    let model = Model::new(c.architecture(), c.dataset.image_shape(), 10);
    let unit = model.unit_index("stage3.block2").unwrap();
    let (t, value) = units::rerandomized_unit(&model, unit, 0, &device).remove(0);
    let Init::HeNormal { fan } = model.tensors[t].init else {
        panic!("VGG convolutions use He init");
    };
    let v = pollster::block_on(read_floats(value)).unwrap();
    let n = v.len() as f64;
    let std = (v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / n).sqrt();
    assert!(
        (std - (2.0 / fan as f64).sqrt()).abs() / std < 0.02,
        "std {std}, fan {fan}"
    );
    let beyond_3_sigma = v.iter().filter(|&&x| (x as f64).abs() > 3.0 * std).count() as f64 / n;
    assert!(
        (beyond_3_sigma - 0.0027).abs() < 0.002,
        "normal tails: {beyond_3_sigma}"
    );
}

fn strip_timing(mut json: serde_json::Value) -> serde_json::Value {
    json.as_object_mut().unwrap().remove("timing");
    json
}

#[test]
fn short_real_run_shows_layer1_critical_and_is_deterministic() {
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    let c = config(&[
        ("model", "fcn"),
        ("epochs", "2"),
        ("checkpoints", "0,1,2"),
        ("train-limit", "16000"),
        ("test-limit", "2000"),
        ("joint", "layer2,layer3"),
    ]);
    let device = Device::flex();
    let mut driver = Quiet::default();
    let result = pollster::block_on(run_experiment(&c, &data, &device, "test", &mut driver)).unwrap();
    result.check_shape().unwrap();
    let r = &result.robustness;
    assert!(
        result.final_test_error < 0.15,
        "trained error {}",
        result.final_test_error
    );
    assert!(
        r.reinitialized[0][0] > 0.25,
        "layer1 at checkpoint 0 must be critical: {:?}",
        r.reinitialized[0]
    );
    for u in 1..4 {
        assert!(
            r.reinitialized[u][0] < r.reinitialized[0][0] / 2.0,
            "{} at checkpoint 0: {} vs layer1 {}",
            result.units[u],
            r.reinitialized[u][0],
            r.reinitialized[0][0]
        );
    }
    for (u, &e) in r.rerandomized.iter().enumerate() {
        assert!(e > 0.5, "re-randomized {} only {e}", result.units[u]);
    }
    assert!(r.full_model[0] > 0.7, "untrained model error {}", r.full_model[0]);
    // The last checkpoint is the trained model itself.
    for u in 0..4 {
        assert_eq!(r.reinitialized[u][2], result.final_test_error);
        assert_eq!(result.distance.l2_relative[u][0], 0.0);
        assert!(result.distance.l2_relative[u][2] > result.distance.l2_relative[u][1]);
        assert!((result.distance.rerandomized_l2_relative[u] - std::f32::consts::SQRT_2).abs() < 0.05);
    }
    assert_eq!(r.joint.len(), 3);
    assert_eq!(r.joint_rerandomized.len(), 1);
    assert_eq!(result.history.len(), 2);
    assert!(driver.events.iter().any(|e| matches!(e, Event::SweepCell { .. })));

    // Same seed, same backend: the same numbers, byte for byte.
    let again = run_quiet(&c, &data).unwrap();
    let a = strip_timing(serde_json::to_value(&result).unwrap());
    let b = strip_timing(serde_json::to_value(&again).unwrap());
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    // Another seed: other numbers.
    let mut other = c.clone();
    other.seed = 1;
    let third = run_quiet(&other, &data).unwrap();
    assert_ne!(third.history, result.history);
}

#[test]
fn a_stopped_run_still_sweeps_with_what_it_has() {
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    let c = config(&[
        ("model", "fcn"),
        ("depth", "2"),
        ("width", "64"),
        ("epochs", "3"),
        ("checkpoints", "0,1,3"),
        ("train-limit", "2560"),
        ("test-limit", "500"),
    ]);
    let mut driver = Quiet {
        stop_after_steps: Some(30),
        ..Default::default()
    };
    let result = pollster::block_on(run_experiment(&c, &data, &Device::flex(), "test", &mut driver)).unwrap();
    assert!(result.stopped_early);
    assert_eq!(result.checkpoints, vec![0, 1], "checkpoint 3 was never reached");
    assert!(
        (result.trained_epochs - 1.5).abs() < 1e-9,
        "{}",
        result.trained_epochs
    );
    assert_eq!(result.robustness.reinitialized[0].len(), 2);
    assert!(result.notes.iter().any(|n| n.contains("stopped")));
    result.check_shape().unwrap();
}

#[test]
fn unknown_joint_unit_is_a_clear_error() {
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    let c = config(&[
        ("joint", "layer2,layer9"),
        ("epochs", "1"),
        ("checkpoints", "0,1"),
    ]);
    let err = run_quiet(&c, &data).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown unit 'layer9'; this model's units are layer1, layer2, layer3, layer4"
    );
}

#[test]
fn a_diverging_run_stops_records_where_and_marks_its_cells() {
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    // The link: a learning rate of 3 sends the loss to NaN within the first epoch.
    let c = config(&[
        ("model", "fcn"),
        ("depth", "3"),
        ("width", "256"),
        ("epochs", "2"),
        ("lr", "3"),
        ("train-limit", "5000"),
        ("test-limit", "1000"),
        ("checkpoints", "0,1,2"),
    ]);
    let result = run_quiet(&c, &data).unwrap();
    let diverged = result.diverged.clone().expect("lr 3 diverges");
    assert_eq!(diverged.epoch, 1);
    assert!(diverged.step >= 1 && diverged.step <= 40, "{diverged:?}");
    assert!(
        result.notes.iter().any(|n| n.contains("diverged in epoch 1")),
        "{:?}",
        result.notes
    );
    assert_eq!(result.checkpoints, vec![0], "no checkpoint after the divergence");
    assert!(
        result.loss_curve.last().unwrap().1.is_nan() || result.loss_curve.last().unwrap().1.is_infinite()
    );
    // Cells built on the diverged weights are not computed; the initial model is.
    assert!(result.final_test_error.is_nan());
    assert!(result.robustness.rerandomized.iter().all(|e| e.is_nan()));
    assert!(
        result
            .robustness
            .reinitialized
            .iter()
            .flatten()
            .all(|e| e.is_nan())
    );
    assert!(result.robustness.full_model[0] > 0.7 && result.robustness.full_model[0] <= 1.0);
    for u in 0..result.units.len() {
        assert_eq!(
            result.verdict(u, 0.05),
            layerlab::engine::result::Verdict::Unknown
        );
    }
    result.check_shape().unwrap();
    // The result file holds it losslessly and reads back; the CLI's table prints it.
    let json = result.to_json();
    assert!(json.contains("\"NaN\""), "non-finite values are spelled out");
    let back = layerlab::engine::ResultFile::from_json(&json).unwrap();
    assert_eq!(back.to_json(), json);
    assert!(layerlab::report::render(&back, 0.05).contains("n/c"));
}

#[test]
fn stopping_the_sweep_keeps_the_cells_done_and_marks_the_rest() {
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    let c = config(&[
        ("model", "fcn"),
        ("depth", "2"),
        ("width", "32"),
        ("epochs", "1"),
        ("checkpoints", "0,1"),
        ("train-limit", "1000"),
        ("test-limit", "300"),
    ]);
    let mut driver = Quiet {
        stop_after_cells: Some(4),
        ..Default::default()
    };
    let result = pollster::block_on(run_experiment(&c, &data, &Device::flex(), "test", &mut driver)).unwrap();
    assert_eq!(result.sweep_cells_done, Some(4));
    // Plan order: layer1 ReRnd, 0, 1, then layer2 ReRnd, … : four cells computed.
    let r = &result.robustness;
    assert!(r.rerandomized[0].is_finite() && r.reinitialized[0].iter().all(|e| e.is_finite()));
    assert!(r.rerandomized[1].is_finite());
    assert!(r.reinitialized[1].iter().all(|e| e.is_nan()) && r.full_model.iter().all(|e| e.is_nan()));
    assert!(result.final_test_error.is_finite());
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("sweep was stopped after 4 of"))
    );
    result.check_shape().unwrap();
    let back = layerlab::engine::ResultFile::from_json(&result.to_json()).unwrap();
    assert_eq!(back.sweep_cells_done, Some(4));
    let link = layerlab::engine::link::decode(&layerlab::engine::link::encode(&result)).unwrap();
    assert_eq!(link.to_json(), result.to_json());
}

/// Keeps what the engine offers to persist, as the page's worker does in IndexedDB.
#[derive(Default)]
struct Keeper {
    checkpoints: Vec<(usize, Vec<Vec<f32>>)>,
    trained: Option<Vec<Vec<f32>>>,
    summary: Option<layerlab::engine::train::TrainingSummary>,
    cells: Vec<(usize, layerlab::engine::metrics::Evaluation)>,
    /// Finished seeds of a multi-seed run.
    seeds: Vec<ResultFile>,
}

async fn host(weights: &Weights) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    for t in weights {
        out.push(read_floats(t.clone()).await.unwrap());
    }
    out
}

impl Driver for Keeper {
    fn event(&mut self, _: Event) {}
    fn stop_requested(&mut self) -> bool {
        false
    }
    async fn pause(&mut self) {}
    async fn persist(&mut self, point: layerlab::engine::train::Persist<'_>) {
        use layerlab::engine::train::Persist;
        match point {
            Persist::Checkpoint { epoch, weights, .. } => self.checkpoints.push((epoch, host(weights).await)),
            Persist::Trained { weights, summary } => {
                self.trained = Some(host(weights).await);
                self.summary = Some(summary.clone());
            }
            Persist::Cell { index, evaluation } => self.cells.push((index, evaluation.clone())),
            // As the page does: the seed's result replaces what was kept for it.
            Persist::Seed { result, .. } => {
                self.seeds.push(result.clone());
                self.checkpoints.clear();
                self.trained = None;
                self.summary = None;
                self.cells.clear();
            }
        }
    }
}

/// Runs `c` on the CPU, quietly.
fn run_quiet(
    c: &ExperimentConfig,
    data: &layerlab::engine::data::DataSplit,
) -> Result<ResultFile, layerlab::engine::EngineError> {
    pollster::block_on(run_experiment(
        c,
        data,
        &Device::flex(),
        "test",
        &mut Quiet::default(),
    ))
}

/// Finishes `stored` on the CPU, quietly.
fn resume(
    c: &ExperimentConfig,
    data: &layerlab::engine::data::DataSplit,
    stored: layerlab::engine::train::StoredRun,
) -> Result<ResultFile, layerlab::engine::train::EngineError> {
    let device = Device::flex();
    let mut quiet = Quiet::default();
    pollster::block_on(layerlab::engine::train::resume_experiment(
        c, data, &device, "test", stored, &mut quiet,
    ))
}

#[test]
fn a_stored_run_resumes_to_the_same_result_and_a_damaged_one_is_refused() {
    use layerlab::engine::train::{EngineError, StoredRun};
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    let c = config(&[
        ("model", "fcn"),
        ("depth", "2"),
        ("width", "32"),
        ("epochs", "2"),
        ("checkpoints", "0,1,2"),
        ("train-limit", "1500"),
        ("test-limit", "400"),
    ]);
    let device = Device::flex();
    let mut keeper = Keeper::default();
    let full = pollster::block_on(run_experiment(&c, &data, &device, "test", &mut keeper)).unwrap();
    assert_eq!(
        keeper.checkpoints.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(keeper.cells.len(), 3 * 4 + 3, "every sweep cell was offered");
    // Interrupted after 5 cells: the resumed run evaluates the rest and agrees bit for bit.
    let stored = StoredRun {
        checkpoints: keeper.checkpoints.clone(),
        trained: keeper.trained.clone(),
        summary: keeper.summary.clone().unwrap(),
        cells: keeper.cells[..5].to_vec(),
        seeds: Vec::new(),
    };
    let resumed = resume(&c, &data, stored.clone()).unwrap();
    assert_eq!(resumed.robustness, full.robustness);
    assert_eq!(resumed.distance, full.distance);
    assert_eq!(resumed.per_class, full.per_class);
    assert_eq!(resumed.history, full.history);
    assert_eq!(resumed.final_test_error, full.final_test_error);
    assert!(
        resumed
            .notes
            .iter()
            .any(|n| n.contains("5 sweep cells came from the stored run"))
    );
    // Interrupted during training: the last checkpoint stands in for the trained model.
    let early = StoredRun {
        trained: None,
        checkpoints: keeper.checkpoints[..2].to_vec(),
        ..stored.clone()
    };
    let partial = resume(&c, &data, early).unwrap();
    assert_eq!(partial.checkpoints, vec![0, 1]);
    assert!(partial.stopped_early && partial.trained_epochs == 1.0);
    partial.check_shape().unwrap();
    // Damaged stores are errors.
    let mut short = stored.clone();
    short.checkpoints[1].1[0].pop();
    let mut foreign = stored.clone();
    foreign.cells[0].0 = 10_000;
    let mut out_of_range = stored;
    out_of_range.cells[0].1.error = 7.0;
    for damaged in [short, foreign, out_of_range] {
        let err = resume(&c, &data, damaged).unwrap_err();
        assert!(matches!(err, EngineError::Stored(_)), "{err}");
    }
}

/// A small FCN run that the multi-seed and interpolation tests share.
fn small_fcn(extra: &[(&str, &str)]) -> ExperimentConfig {
    let mut pairs = vec![
        ("model", "fcn"),
        ("depth", "2"),
        ("width", "32"),
        ("epochs", "2"),
        ("checkpoints", "0,1,2"),
        ("train-limit", "1500"),
        ("test-limit", "400"),
        ("lr", "0.05"),
    ];
    pairs.extend_from_slice(extra);
    config(&pairs)
}

#[test]
fn interpolation_runs_along_the_path_and_its_ends_are_the_known_models() {
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    let c = small_fcn(&[("interpolation", "1,0,0.5")]);
    assert_eq!(c.interpolation, vec![0.0, 0.5, 1.0], "sorted on the way in");
    let r = run_quiet(&c, &data).unwrap();
    let i = r.interpolation.as_ref().expect("the run has an interpolation");
    assert_eq!(i.alphas, vec![0.0, 0.5, 1.0]);
    assert_eq!(i.epsilon, layerlab::engine::result::DEFAULT_THRESHOLD);
    for unit in 0..r.units.len() {
        // α = 0 is the unit at its initial weights: the checkpoint-0 reset, bit for bit.
        assert_eq!(
            i.test_error[unit][0], r.robustness.reinitialized[unit][0],
            "unit {unit}"
        );
        // α = 1 is the trained model.
        assert_eq!(i.test_error[unit][2], r.final_test_error, "unit {unit}");
        let expected = layerlab::engine::result::Interpolation::criticality_of(
            &i.alphas,
            &i.test_error[unit],
            r.final_test_error,
            i.epsilon,
        );
        assert_eq!(i.criticality[unit].to_bits(), expected.to_bits());
        assert!(i.criticality[unit] <= 1.0, "α = 1 is always within ε");
    }
    // The file and a link keep it.
    let back = ResultFile::from_json(&r.to_json()).unwrap();
    assert_eq!(back.to_json(), r.to_json());
    let linked = layerlab::engine::link::decode(&layerlab::engine::link::encode(&r)).unwrap();
    assert_eq!(linked.interpolation, r.interpolation);
}

#[test]
fn criticality_is_the_smallest_alpha_from_which_the_error_stays_within_epsilon() {
    use layerlab::engine::result::Interpolation;
    let alphas = [0.0, 0.25, 0.5, 0.75, 1.0];
    let at = |errors: &[f64]| Interpolation::criticality_of(&alphas, errors, 0.10, 0.05);
    assert_eq!(at(&[0.9, 0.6, 0.14, 0.12, 0.10]), 0.5);
    // Within at 0.25, out again at 0.5: "stays within" starts at 0.75.
    assert_eq!(at(&[0.9, 0.12, 0.3, 0.12, 0.10]), 0.75);
    assert_eq!(at(&[0.1, 0.1, 0.1, 0.1, 0.1]), 0.0);
    assert!(at(&[0.9, 0.9, 0.9, 0.9, 0.9]).is_nan(), "never within ε");
    assert_eq!(
        at(&[f64::NAN, 0.9, 0.1, 0.1, 0.1]),
        0.5,
        "a gap below the break does not matter"
    );
    assert!(
        at(&[0.9, f64::NAN, 0.1, 0.1, 0.1]).is_nan(),
        "a gap just below the answer does"
    );
    assert!(
        at(&[0.1, 0.1, 0.1, f64::NAN, 0.1]).is_nan(),
        "a gap above it does"
    );
}

#[test]
fn a_multi_seed_run_is_the_mean_of_its_single_seed_runs_bit_for_bit() {
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    let device = Device::flex();
    let multi_config = small_fcn(&[("seeds", "3-5"), ("interpolation", "0,0.5,1")]);
    let mut quiet = Quiet::default();
    let multi =
        pollster::block_on(run_experiment(&multi_config, &data, &device, "test", &mut quiet)).unwrap();
    let seed_events: Vec<u64> = quiet
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Seed { seed, .. } => Some(*seed),
            _ => None,
        })
        .collect();
    assert_eq!(seed_events, vec![3, 4, 5]);
    let singles: Vec<ResultFile> = [3, 4, 5]
        .iter()
        .map(|&seed| {
            let c = multi_config.for_seed(seed);
            run_quiet(&c, &data).unwrap()
        })
        .collect();
    assert_eq!(multi.seed_runs.len(), 3);
    for (run, single) in multi.seed_runs.iter().zip(&singles) {
        assert_eq!(run.seed, single.config.seed);
        assert_eq!(run.robustness, single.robustness);
        assert_eq!(run.distance, single.distance);
        assert_eq!(run.interpolation, single.interpolation);
    }
    // The mean map, in seed order, is the plain mean of the three single runs.
    let summary = multi.seed_summary.as_ref().unwrap();
    for unit in 0..multi.units.len() {
        for c in 0..multi.checkpoints.len() {
            let values: Vec<f64> = singles
                .iter()
                .map(|s| s.robustness.reinitialized[unit][c])
                .collect();
            let mean = values.iter().sum::<f64>() / 3.0;
            assert_eq!(multi.robustness.reinitialized[unit][c].to_bits(), mean.to_bits());
            assert_eq!(
                summary.mean.robustness.reinitialized[unit][c].to_bits(),
                mean.to_bits()
            );
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(summary.min.robustness.reinitialized[unit][c], min);
            assert_eq!(summary.max.robustness.reinitialized[unit][c], max);
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0;
            assert_eq!(summary.std.robustness.reinitialized[unit][c], var.sqrt());
        }
    }
    let mean_final = singles.iter().map(|s| s.final_test_error).sum::<f64>() / 3.0;
    assert_eq!(multi.final_test_error, mean_final);
    let (critical, judged) = multi.critical_in_seeds(0, 0.05).unwrap();
    assert_eq!(judged, 3);
    let expected = singles
        .iter()
        .filter(|s| s.verdict(0, 0.05).name() == "critical")
        .count();
    assert_eq!(critical, expected);
    // Through the file, a link and back.
    let back = ResultFile::from_json(&multi.to_json()).unwrap();
    assert_eq!(back.to_json(), multi.to_json());
    let linked = layerlab::engine::link::decode(&layerlab::engine::link::encode(&multi)).unwrap();
    assert_eq!(linked.to_json(), multi.to_json());
}

#[test]
fn a_multi_seed_run_resumes_after_its_first_seed_and_a_foreign_seed_is_refused() {
    use layerlab::engine::train::{EngineError, StoredRun};
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    let device = Device::flex();
    let c = small_fcn(&[("seeds", "0,7")]);
    let mut keeper = Keeper::default();
    let full = pollster::block_on(run_experiment(&c, &data, &device, "test", &mut keeper)).unwrap();
    assert_eq!(keeper.seeds.len(), 2, "each finished seed was offered");
    // Seed 0 done, seed 7 trained and 4 of its cells swept.
    let seed0 = run_quiet(&c.for_seed(0), &data).unwrap();
    let mut second = Keeper::default();
    let _ = pollster::block_on(run_experiment(
        &c.for_seed(7),
        &data,
        &device,
        "test",
        &mut second,
    ))
    .unwrap();
    let stored = StoredRun {
        checkpoints: second.checkpoints.clone(),
        trained: second.trained.clone(),
        summary: second.summary.clone().unwrap(),
        cells: second.cells[..4].to_vec(),
        seeds: vec![seed0],
    };
    let resumed = resume(&c, &data, stored.clone()).unwrap();
    assert_eq!(resumed.robustness, full.robustness);
    assert_eq!(resumed.seed_summary, full.seed_summary);
    assert_eq!(resumed.seed_runs, full.seed_runs);
    // Between seeds (nothing stored of the second yet): it runs the second seed.
    let between = StoredRun {
        checkpoints: Vec::new(),
        trained: None,
        cells: Vec::new(),
        ..stored.clone()
    };
    let resumed = resume(&c, &data, between).unwrap();
    assert_eq!(resumed.seed_runs, full.seed_runs);
    // A finished seed from another config is refused.
    let mut foreign = stored;
    foreign.seeds[0].config.lr = 0.5;
    assert!(matches!(resume(&c, &data, foreign), Err(EngineError::Stored(_))));
}

#[test]
fn a_study_runs_its_grid_and_keeps_every_run() {
    use layerlab::engine::study::{StudyPlan, run_study};
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    let base = [
        ("epochs", "1"),
        ("checkpoints", "0,1"),
        ("train-limit", "1000"),
        ("test-limit", "300"),
        ("lr", "0.05"),
        ("width", "64"),
    ];
    let plan = StudyPlan::new(&base, &[("depth", vec!["1", "3"]), ("width", vec!["16", "32"])]).unwrap();
    assert_eq!(plan.configs.len(), 4);
    assert_eq!(
        plan.values(),
        vec![vec!["1", "16"], vec!["1", "32"], vec!["3", "16"], vec!["3", "32"]]
    );
    assert_eq!(plan.configs[3].depth, 3);
    assert_eq!(plan.configs[3].width, 32, "an axis overrides the shared pair");
    let mut quiet = Quiet::default();
    let result = pollster::block_on(run_study(&plan, &data, &Device::flex(), "test", &mut quiet)).unwrap();
    let study = result.study.as_ref().unwrap();
    assert_eq!(study.runs.len(), 4);
    for (run, config) in study.runs.iter().zip(&plan.configs) {
        let alone = run_quiet(config, &data).unwrap();
        assert_eq!(run.units, alone.units);
        assert_eq!(run.final_test_error, alone.final_test_error);
        assert_eq!(
            run.reinitialized,
            alone
                .robustness
                .reinitialized
                .iter()
                .map(|r| r[0])
                .collect::<Vec<_>>()
        );
        assert_eq!(run.result.as_ref().unwrap().robustness, alone.robustness);
    }
    assert_eq!(
        result.units, study.runs[0].units,
        "the file's own maps are the first run's"
    );
    let back = ResultFile::from_json(&result.to_json()).unwrap();
    assert_eq!(back.to_json(), result.to_json());
    // A link carries every row, not the runs' whole results.
    let linked = layerlab::engine::link::decode(&layerlab::engine::link::encode(&result)).unwrap();
    assert_eq!(linked.study, Some(study.rows_only()));
    // A row that does not match its run, or runs out of the grid's order, are refused.
    let mut forged: serde_json::Value = serde_json::from_str(&result.to_json()).unwrap();
    forged["study"]["runs"][1]["reinitialized"][0] = serde_json::json!(0.0);
    assert!(ResultFile::from_json(&forged.to_string()).is_err());
    let mut swapped: serde_json::Value = serde_json::from_str(&result.to_json()).unwrap();
    swapped["study"]["runs"].as_array_mut().unwrap().swap(1, 2);
    assert!(ResultFile::from_json(&swapped.to_string()).is_err());
    // Bad plans are errors before anything trains.
    assert!(StudyPlan::new(&base, &[("checkpoints", vec!["1", "2"])]).is_err());
    assert!(StudyPlan::new(&base, &[("depth", vec!["2", "2"])]).is_err());
    assert!(
        StudyPlan::new(&base, &[("depth", vec!["2"])]).is_err(),
        "one run is not a study"
    );
    assert!(
        StudyPlan::new(&base, &[("model", vec!["fcn", "vgg11"])]).is_err(),
        "one data set"
    );
}

#[test]
fn only_cells_that_are_the_trained_model_take_its_evaluation() {
    let data = files::load_mnist(&common::mnist_dir()).unwrap();
    // The last checkpoint is the trained model: its column and full-model cell are its numbers.
    let full = run_quiet(&small_fcn(&[]), &data).unwrap();
    for unit in 0..full.units.len() {
        assert_eq!(full.robustness.reinitialized[unit][2], full.final_test_error);
        assert_eq!(full.per_class.reinitialized[unit][2], full.per_class.trained);
    }
    assert_eq!(full.robustness.full_model[2], full.final_test_error);
    // Without the last epoch's checkpoint no cell is the trained model: epoch 1's cells are
    // evaluated, and they differ from the trained model's.
    let early = run_quiet(&small_fcn(&[("checkpoints", "0,1")]), &data).unwrap();
    assert_eq!(early.final_test_error, full.final_test_error);
    assert_eq!(early.robustness.full_model[1], full.robustness.full_model[1]);
    assert_ne!(early.robustness.full_model[1], early.final_test_error);
    assert!(
        (0..early.units.len()).any(|u| early.per_class.reinitialized[u][1] != early.per_class.trained),
        "every unit at epoch 1 scored exactly like the trained model"
    );
}
