//! Multi-seed runs: each seed is trained and swept as its own run; the result file shows the
//! mean of their maps and keeps every seed's maps and the spread of each value.
//!
//! Statistics are taken value by value over the seeds that computed it (a diverged seed's "not
//! computed" cells are left out, not averaged as zeros); a value no seed computed stays NaN. The
//! standard deviation is the sample one (n − 1 in the denominator; 0 for a single seed).

use super::*;

/// One seed of a multi-seed run: what its own result file would show in the maps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedRun {
    pub seed: u64,
    #[serde(with = "crate::engine::floats")]
    pub final_test_error: f64,
    pub robustness: Robustness,
    pub distance: Distance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpolation: Option<Interpolation>,
}

/// One statistic of every map value over the seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedStat {
    #[serde(with = "crate::engine::floats")]
    pub final_test_error: f64,
    pub robustness: Robustness,
    pub distance: Distance,
    /// The interpolation's test errors, `[unit][alpha]`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::engine::floats"
    )]
    pub interpolation: Option<Vec<Vec<f64>>>,
}

/// Mean, sample standard deviation, minimum and maximum over the seeds, value by value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedSummary {
    pub mean: SeedStat,
    pub std: SeedStat,
    pub min: SeedStat,
    pub max: SeedStat,
}

/// Every map value of one seed, in a fixed order, and the way back from such a list.
impl SeedRun {
    fn values(&self) -> Vec<f64> {
        let r = &self.robustness;
        let d = &self.distance;
        let mut v = vec![self.final_test_error];
        v.extend(&r.rerandomized);
        v.extend(r.reinitialized.iter().flatten());
        v.extend(&r.full_model);
        v.extend(r.joint.iter().map(|j| j.test_error));
        v.extend(r.joint_rerandomized.iter().map(|j| j.test_error));
        let f32s = d
            .l2_relative
            .iter()
            .flatten()
            .chain(d.linf.iter().flatten())
            .chain(&d.rerandomized_l2_relative)
            .chain(&d.rerandomized_linf);
        v.extend(f32s.map(|&x| x as f64));
        if let Some(i) = &self.interpolation {
            v.extend(i.test_error.iter().flatten());
        }
        v
    }

    /// A statistic shaped like this seed, its values taken in [`SeedRun::values`]' order.
    fn stat(&self, values: &[f64]) -> SeedStat {
        let mut next = values.iter().copied();
        let mut take = || next.next().expect("one value per map value");
        let final_test_error = take();
        let r = &self.robustness;
        let d = &self.distance;
        let rerandomized = r.rerandomized.iter().map(|_| take()).collect();
        let reinitialized = r
            .reinitialized
            .iter()
            .map(|row| row.iter().map(|_| take()).collect())
            .collect();
        let full_model = r.full_model.iter().map(|_| take()).collect();
        let joint = r
            .joint
            .iter()
            .map(|j| JointRecord {
                test_error: take(),
                ..j.clone()
            })
            .collect();
        let joint_rerandomized = r
            .joint_rerandomized
            .iter()
            .map(|j| JointRerandomized {
                test_error: take(),
                ..j.clone()
            })
            .collect();
        let mut take32 = |n: usize| -> Vec<f32> { (0..n).map(|_| take() as f32).collect() };
        let l2_relative = d.l2_relative.iter().map(|row| take32(row.len())).collect();
        let linf = d.linf.iter().map(|row| take32(row.len())).collect();
        let rerandomized_l2_relative = take32(d.rerandomized_l2_relative.len());
        let rerandomized_linf = take32(d.rerandomized_linf.len());
        let interpolation = self.interpolation.as_ref().map(|i| {
            i.test_error
                .iter()
                .map(|row| row.iter().map(|_| take()).collect())
                .collect()
        });
        SeedStat {
            final_test_error,
            robustness: Robustness {
                rerandomized,
                reinitialized,
                full_model,
                joint,
                joint_rerandomized,
            },
            distance: Distance {
                l2_relative,
                linf,
                rerandomized_l2_relative,
                rerandomized_linf,
            },
            interpolation,
        }
    }
}

impl SeedSummary {
    /// The summary of `runs` (at least one, all of one shape: the same config but the seed).
    pub fn of(runs: &[SeedRun]) -> Self {
        let columns: Vec<Vec<f64>> = runs.iter().map(SeedRun::values).collect();
        let mean = mean_of(&columns.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let len = mean.len();
        let (mut std, mut min, mut max) = (
            Vec::with_capacity(len),
            Vec::with_capacity(len),
            Vec::with_capacity(len),
        );
        for (at, &m) in mean.iter().enumerate() {
            // In seed order, so the same seeds always give the same bits.
            let computed: Vec<f64> = columns.iter().map(|c| c[at]).filter(|v| !v.is_nan()).collect();
            if computed.is_empty() {
                std.push(f64::NAN);
                min.push(f64::NAN);
                max.push(f64::NAN);
                continue;
            }
            let n = computed.len() as f64;
            let variance = if computed.len() > 1 {
                computed.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            std.push(variance.sqrt());
            min.push(computed.iter().copied().fold(f64::INFINITY, f64::min));
            max.push(computed.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
        let shape = &runs[0];
        Self {
            mean: shape.stat(&mean),
            std: shape.stat(&std),
            min: shape.stat(&min),
            max: shape.stat(&max),
        }
    }
}

impl ResultFile {
    /// This single-seed result as one seed of a multi-seed run.
    pub fn seed_run(&self) -> SeedRun {
        SeedRun {
            seed: self.config.seed,
            final_test_error: self.final_test_error,
            robustness: self.robustness.clone(),
            distance: self.distance.clone(),
            interpolation: self.interpolation.clone(),
        }
    }

    /// A multi-seed result's seeds: its seed runs', or the config's when a link too long for
    /// every seed's maps left the runs out. Empty for a single-seed result.
    pub fn seed_list(&self) -> Vec<u64> {
        if self.seed_runs.is_empty() && self.seed_summary.is_some() {
            self.config.seeds.clone()
        } else {
            self.seed_runs.iter().map(|s| s.seed).collect()
        }
    }

    /// For a multi-seed result: in how many seeds unit `unit` is critical at `threshold`, and
    /// in how many it could be judged. `None` for a single-seed result.
    pub fn critical_in_seeds(&self, unit: usize, threshold: f64) -> Option<(usize, usize)> {
        if self.seed_runs.is_empty() {
            return None;
        }
        let verdicts = self
            .seed_runs
            .iter()
            .map(|s| Verdict::of(s.robustness.reinitialized[unit][0], s.final_test_error, threshold));
        let judged: Vec<Verdict> = verdicts.filter(|v| *v != Verdict::Unknown).collect();
        Some((
            judged.iter().filter(|v| **v == Verdict::Critical).count(),
            judged.len(),
        ))
    }
}

/// Mean of each value over the lists that computed it (see the module's rule).
fn mean_of(lists: &[&[f64]]) -> Vec<f64> {
    (0..lists[0].len())
        .map(|at| {
            let computed: Vec<f64> = lists.iter().map(|l| l[at]).filter(|v| !v.is_nan()).collect();
            if computed.is_empty() {
                f64::NAN
            } else {
                computed.iter().sum::<f64>() / computed.len() as f64
            }
        })
        .collect()
}

/// Per-class errors, value by value the mean over the seeds.
fn mean_per_class(all: &[&PerClass]) -> PerClass {
    let rows = |pick: &dyn Fn(&PerClass) -> Vec<&Vec<f64>>| -> Vec<Vec<f64>> {
        let per_seed: Vec<Vec<&Vec<f64>>> = all.iter().map(|p| pick(p)).collect();
        (0..per_seed[0].len())
            .map(|row| mean_of(&per_seed.iter().map(|s| s[row].as_slice()).collect::<Vec<_>>()))
            .collect()
    };
    let first = all[0];
    let mut flat_reinit = rows(&|p| p.reinitialized.iter().flatten().collect()).into_iter();
    PerClass {
        trained: rows(&|p| vec![&p.trained]).pop().unwrap_or_default(),
        rerandomized: rows(&|p| p.rerandomized.iter().collect()),
        reinitialized: first
            .reinitialized
            .iter()
            .map(|unit| {
                unit.iter()
                    .map(|_| flat_reinit.next().expect("same shape"))
                    .collect()
            })
            .collect(),
        full_model: rows(&|p| p.full_model.iter().collect()),
    }
}

/// The result of a multi-seed run from the results of its seeds (in seed order, each run with
/// `config` but its own seed): every map and per-class value is the mean over the seeds; the
/// curves are the first seed's (a note says so).
pub fn combine_seeds(config: &ExperimentConfig, results: Vec<ResultFile>) -> ResultFile {
    let runs: Vec<SeedRun> = results.iter().map(ResultFile::seed_run).collect();
    let summary = SeedSummary::of(&runs);
    let mut first = results.into_iter();
    let mut combined = first.next().expect("a multi-seed run has at least one seed");
    let others: Vec<ResultFile> = first.collect();
    // Every seed has one shape, unless a seed ended without per-class errors (a stop before
    // its sweep): then the first seed's stand.
    let per_class: Vec<&PerClass> = std::iter::once(&combined)
        .chain(&others)
        .map(|r| &r.per_class)
        .collect();
    let same_shape = per_class.iter().all(|p| {
        p.trained.len() == per_class[0].trained.len()
            && p.rerandomized.len() == per_class[0].rerandomized.len()
            && p.reinitialized.len() == per_class[0].reinitialized.len()
            && p.full_model.len() == per_class[0].full_model.len()
            && p.reinitialized
                .iter()
                .zip(&per_class[0].reinitialized)
                .all(|(a, b)| a.len() == b.len())
    });
    let per_class = same_shape.then(|| mean_per_class(&per_class));
    let mean = &summary.mean;
    let seeds_done = runs.len();
    let mut notes = vec![format!(
        "the maps are the mean of {seeds_done} seeds ({}); the curves are seed {}'s",
        runs.iter()
            .map(|r| r.seed.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        runs[0].seed
    )];
    if seeds_done < config.seeds.len() {
        notes.push(format!(
            "stopped after {seeds_done} of {} seeds",
            config.seeds.len()
        ));
    }
    for (run, result) in std::iter::once(&combined)
        .chain(&others)
        .map(|r| (r.config.seed, r))
    {
        notes.extend(result.notes.iter().map(|n| format!("seed {run}: {n}")));
    }
    notes.truncate(caps::NOTES);
    combined.config = config.clone();
    combined.final_test_error = mean.final_test_error;
    combined.robustness = mean.robustness.clone();
    combined.distance = mean.distance.clone();
    combined.interpolation = combined.interpolation.take().map(|i| {
        let errors = mean.interpolation.clone().unwrap_or_default();
        Interpolation::new(i.alphas, errors, mean.final_test_error, i.epsilon)
    });
    for other in &others {
        combined.timing.train_seconds += other.timing.train_seconds;
        combined.timing.sweep_seconds += other.timing.sweep_seconds;
        combined.stopped_early |= other.stopped_early;
    }
    if let Some(per_class) = per_class {
        combined.per_class = per_class;
    }
    // Means are taken over the seeds that computed each value, so no cell count applies.
    combined.sweep_cells_done = None;
    combined.notes = notes;
    combined.seed_runs = runs;
    combined.seed_summary = Some(summary);
    combined
}
