//! Architecture studies: a grid of configs (e.g. FCN depth 2, 3, 5, 8), each trained and swept,
//! kept in one result file. The file's own maps are the first run's; `study` lists every run's
//! verdict row (its units' errors at the first checkpoint and re-randomized) and, in files, the
//! whole run. Links carry the rows only.

use super::*;

/// The axis of a stopped study: its values are the labels of the runs done.
pub const RUN_AXIS: &str = "run";

/// One config key the study varies, and its values in grid order (as the config prints them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyAxis {
    pub key: String,
    pub values: Vec<String>,
}

/// One run of the grid: what its verdict row needs, and the run itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyRun {
    /// This run's value of each axis, in axis order.
    pub values: Vec<String>,
    pub units: Vec<String>,
    #[serde(with = "crate::engine::floats")]
    pub final_test_error: f64,
    /// Test error with each unit re-randomized.
    #[serde(with = "crate::engine::floats")]
    pub rerandomized: Vec<f64>,
    /// Test error with each unit re-initialized to the run's first checkpoint (0: its initial
    /// weights), the column verdicts read.
    #[serde(with = "crate::engine::floats")]
    pub reinitialized: Vec<f64>,
    /// Epoch of that checkpoint.
    pub first_checkpoint: usize,
    /// The whole run (result files); `None` in a link, which carries the rows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<ResultFile>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Study {
    pub axes: Vec<StudyAxis>,
    /// The grid, the last axis varying fastest.
    pub runs: Vec<StudyRun>,
}

impl StudyRun {
    /// The row of `result`, run at `values` of the study's axes.
    pub fn of(values: Vec<String>, result: ResultFile) -> Self {
        Self {
            values,
            units: result.units.clone(),
            final_test_error: result.final_test_error,
            rerandomized: result.robustness.rerandomized.clone(),
            reinitialized: result.robustness.reinitialized.iter().map(|row| row[0]).collect(),
            first_checkpoint: result.checkpoints[0],
            result: Some(Box::new(result)),
        }
    }

    /// "depth=5 · width=256".
    pub fn label(&self, axes: &[StudyAxis]) -> String {
        label(axes, &self.values)
    }

    /// Units critical at `threshold` (their reset to the first checkpoint raises the error by
    /// more than it).
    pub fn critical_units(&self, threshold: f64) -> Vec<&str> {
        self.units
            .iter()
            .zip(&self.reinitialized)
            .filter(|(_, e)| Verdict::of(**e, self.final_test_error, threshold) == Verdict::Critical)
            .map(|(u, _)| u.as_str())
            .collect()
    }
}

/// The label of the grid point at `values` of `axes`: "depth=5 · width=256".
pub fn label(axes: &[StudyAxis], values: &[String]) -> String {
    axes.iter()
        .zip(values)
        .map(|(a, v)| format!("{}={v}", a.key))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Every combination of the axes' values, the last axis fastest: the runs' order.
pub fn grid(axes: &[StudyAxis]) -> Vec<Vec<String>> {
    axes.iter().fold(vec![Vec::new()], |points, axis| {
        points
            .iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut next = p.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect()
    })
}

impl Study {
    /// Every unit name of the runs, in the order they first name them (a shallower run's units
    /// come before a deeper one's extra ones): the columns of the study's map and table.
    pub fn unit_columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = Vec::new();
        for unit in self.runs.iter().flat_map(|r| &r.units) {
            if !columns.contains(&unit.as_str()) {
                columns.push(unit);
            }
        }
        columns
    }

    /// The study's result file: the first run's own result, with every run listed.
    pub fn into_result(axes: Vec<StudyAxis>, runs: Vec<StudyRun>) -> ResultFile {
        let mut first = *runs[0].result.clone().expect("a fresh study holds its runs");
        first.study = Some(Study { axes, runs });
        first
    }

    /// The same study without the runs' whole results: what a link carries.
    pub fn rows_only(&self) -> Study {
        Study {
            axes: self.axes.clone(),
            runs: self
                .runs
                .iter()
                .map(|r| StudyRun {
                    result: None,
                    ..r.clone()
                })
                .collect(),
        }
    }

    /// The shape checks of a study inside `owner` (see [`ResultFile::check_shape`]).
    pub(super) fn check(&self, owner: &ResultFile) -> Result<(), ResultError> {
        let bad = |m: String| Err(ResultError::Shape(m));
        let points = self
            .axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
        if self.axes.is_empty() || self.axes.len() > caps::STUDY_AXES || points != Some(self.runs.len()) {
            return bad("a study's runs are not the grid of its axes".into());
        }
        if self.runs.is_empty() || self.runs.len() > caps::STUDY_RUNS {
            return bad(format!(
                "a study of {} runs (at most {})",
                self.runs.len(),
                caps::STUDY_RUNS
            ));
        }
        for axis in &self.axes {
            if axis.key != RUN_AXIS && crate::engine::config::key(&axis.key).is_none() {
                return bad(format!("a study varies the unknown key '{}'", axis.key));
            }
            let long = |s: &String| s.chars().count() > caps::NAME_CHARS;
            if axis.values.is_empty() || axis.values.iter().any(long) {
                return bad(format!(
                    "a study axis '{}' without values, or a value too long",
                    axis.key
                ));
            }
        }
        // At most `caps::STUDY_RUNS` points: the grid's size is the runs' count, checked above.
        for (at, (run, expected)) in self.runs.iter().zip(grid(&self.axes)).enumerate() {
            let label = run.label(&self.axes);
            if run.values != expected {
                return bad(format!("study run {at} is not at its place in the grid"));
            }
            let units = run.units.len();
            if units == 0
                || units > caps::UNITS
                || run.units.iter().any(|u| u.chars().count() > caps::NAME_CHARS)
                || run.rerandomized.len() != units
                || run.reinitialized.len() != units
            {
                return bad(format!("study run {label}: its lists do not match its units"));
            }
            let errors = std::iter::once(&run.final_test_error)
                .chain(&run.rerandomized)
                .chain(&run.reinitialized);
            if !errors.into_iter().all(|e| is_error_value(*e)) {
                return bad(format!("study run {label}: a test error outside [0, 1]"));
            }
            if let Some(result) = &run.result {
                if result.study.is_some() {
                    return bad(format!("study run {label} holds a study itself"));
                }
                result.check_shape()?;
                // The row is the run's own: a link (rows only) shows what the file shows. Compared
                // as lossless JSON, where NaN (not computed) equals NaN.
                let row = StudyRun::of(run.values.clone(), (**result).clone());
                if serde_json::to_string(&row).ok() != serde_json::to_string(run).ok() {
                    return bad(format!("study run {label}: its row does not match its result"));
                }
                for (axis, value) in self.axes.iter().zip(&run.values) {
                    let Some(key) = crate::engine::config::key(&axis.key) else {
                        continue; // the run axis: labels, not config values
                    };
                    if key.value_of(&result.config).as_deref() != Some(value.as_str()) {
                        return bad(format!("study run {label}: its config has another {}", axis.key));
                    }
                }
            }
        }
        if let Some(first) = self.runs[0].result.as_deref() {
            let mut top = owner.clone();
            top.study = None;
            if first.to_json() != top.to_json() {
                return bad("a study's own maps are not its first run's".into());
            }
        }
        Ok(())
    }
}
