//! Architecture studies: one experiment over a grid of configs (FCN depth 2–8 × width 64–1024,
//! VGG-11/13/16/19, …), each run trained and swept in turn, all kept in one result file (see
//! [`crate::engine::result::Study`]).

use crate::engine::config::{self, ConfigError, ExperimentConfig};
use crate::engine::data::DataSplit;
use crate::engine::result::study::{grid, label};
use crate::engine::result::{RUN_AXIS, ResultFile, Study, StudyAxis, StudyRun, caps};
use crate::engine::train::{Driver, EngineError, Event, run_experiment};
use burn::tensor::Device;

/// Keys a study may vary (each takes one value per run; list-valued keys such as
/// `checkpoints` would be ambiguous on the command line).
pub const AXIS_KEYS: &[&str] = &[
    "model",
    "depth",
    "width",
    "width-mult",
    "batch-norm",
    "epochs",
    "batch-size",
    "optimizer",
    "lr",
    "momentum",
    "weight-decay",
    "augment",
];

/// The runs of a study, built and validated before anything trains.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyPlan {
    pub axes: Vec<StudyAxis>,
    /// One per grid point, the last axis varying fastest.
    pub configs: Vec<ExperimentConfig>,
}

impl StudyPlan {
    /// The grid of `axes` (`(key, values)`) over the `base` pairs every run shares (an axis
    /// overrides a base pair of the same key).
    pub fn new(base: &[(&str, &str)], axes: &[(&str, Vec<&str>)]) -> Result<Self, ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if axes.is_empty() || axes.len() > caps::STUDY_AXES {
            return invalid(format!(
                "a study varies 1 to {} keys, e.g. --depth 2,3,5,8",
                caps::STUDY_AXES
            ));
        }
        let mut study_axes = Vec::new();
        for (at, (name, values)) in axes.iter().enumerate() {
            if !AXIS_KEYS.contains(name) {
                return invalid(format!(
                    "a study cannot vary '{name}' (it varies {})",
                    AXIS_KEYS.join(", ")
                ));
            }
            if axes[..at].iter().any(|(other, _)| other == name) {
                return invalid(format!("a study varies '{name}' twice"));
            }
            let key = config::key(name).expect("axis keys are config keys");
            // Each value as the config prints it, so labels and files agree with the runs.
            let mut canonical = Vec::new();
            for value in values {
                let text = key.canonical(value).ok_or_else(|| ConfigError::BadValue {
                    key: name.to_string(),
                    value: value.to_string(),
                    expected: key.expected.into(),
                })?;
                if canonical.contains(&text) {
                    return invalid(format!("a study lists {name} {text} twice"));
                }
                canonical.push(text);
            }
            study_axes.push(StudyAxis {
                key: name.to_string(),
                values: canonical,
            });
        }
        let runs = study_axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
        match runs {
            Some(n) if (2..=caps::STUDY_RUNS).contains(&n) => {}
            _ => {
                return invalid(format!(
                    "a study has 2 to {} runs (its axes give {})",
                    caps::STUDY_RUNS,
                    runs.map_or("too many".to_string(), |n| n.to_string())
                ));
            }
        }
        let mut configs = Vec::new();
        for values in grid(&study_axes) {
            let pairs = base
                .iter()
                .copied()
                .filter(|(k, _)| !study_axes.iter().any(|a| a.key == *k))
                .chain(
                    study_axes
                        .iter()
                        .map(|a| a.key.as_str())
                        .zip(values.iter().map(String::as_str)),
                );
            let c = ExperimentConfig::from_pairs(pairs).map_err(|e| {
                ConfigError::Invalid(format!("the study's run {}: {e}", label(&study_axes, &values)))
            })?;
            if !c.seeds.is_empty() {
                return invalid("a study runs one seed per config (leave seeds out)".into());
            }
            configs.push(c);
        }
        if configs.iter().any(|c| c.dataset != configs[0].dataset) {
            return invalid("every run of a study uses one data set".into());
        }
        Ok(Self {
            axes: study_axes,
            configs,
        })
    }

    /// Each run's axis values, in run order.
    pub fn values(&self) -> Vec<Vec<String>> {
        grid(&self.axes)
    }
}

/// Trains and sweeps every run of `plan` in turn. A stopped run (not one that diverged) ends
/// the study: the result holds the runs done, and its axes shrink to them when they no longer
/// form the grid (then it lists them under one axis, `run`).
pub async fn run_study<D: Driver>(
    plan: &StudyPlan,
    data: &DataSplit,
    device: &Device,
    backend: &str,
    driver: &mut D,
) -> Result<ResultFile, EngineError> {
    let values = plan.values();
    let count = plan.configs.len();
    let mut runs = Vec::with_capacity(count);
    for (index, (config, values)) in plan.configs.iter().zip(values).enumerate() {
        driver.event(Event::StudyRun {
            index,
            count,
            label: label(&plan.axes, &values),
        });
        let result = run_experiment(config, data, device, backend, driver).await?;
        let stopped = result.was_stopped();
        runs.push(StudyRun::of(values, result));
        if stopped {
            break;
        }
    }
    let axes = if runs.len() == count {
        plan.axes.clone()
    } else {
        // A stopped study: the runs done, as a one-axis grid of their labels.
        for run in &mut runs {
            run.values = vec![run.label(&plan.axes)];
        }
        vec![StudyAxis {
            key: RUN_AXIS.into(),
            values: runs.iter().map(|r| r.values[0].clone()).collect(),
        }]
    };
    Ok(Study::into_result(axes, runs))
}
