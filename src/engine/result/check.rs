//! Reading a result file as hostile input: the format tag and version first, then every
//! shape and range a page or a link could trip over.

use super::*;

impl ResultFile {
    /// Parses and checks a result document.
    pub fn from_json(text: &str) -> Result<Self, ResultError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ResultError::NotJson(e.to_string()))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => return Err(ResultError::Foreign(other.chars().take(40).collect())),
            None => return Err(ResultError::Foreign("missing".into())),
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if (1..=VERSION as u64).contains(&v) => {}
            Some(v) => return Err(ResultError::Version(v.min(u32::MAX as u64) as u32)),
            None => return Err(ResultError::Shape("missing version".into())),
        }
        let mut result: ResultFile =
            serde_json::from_value(value).map_err(|e| ResultError::Shape(e.to_string()))?;
        result.config = result.config.canonical();
        // Read as this version: later fields a version 1 file lacks are absent (their default).
        result.version = VERSION;
        result.check_shape()?;
        Ok(result)
    }

    /// Every list has the length the units and checkpoints promise, every error is a fraction in
    /// [0, 1] (or NaN: not computed), and nothing is bigger than a page can show (see [`caps`]).
    pub fn check_shape(&self) -> Result<(), ResultError> {
        let units = self.units.len();
        let ckpts = self.checkpoints.len();
        let classes = self.class_names.len();
        let bad = |m: String| Err(ResultError::Shape(m));
        // The same rules as a config typed into the CLI or carried by a link.
        if let Err(e) = self.config.validate() {
            return bad(format!("its config: {e}"));
        }
        if units == 0 || units > caps::UNITS {
            return bad(format!("{units} units (at most {})", caps::UNITS));
        }
        if ckpts == 0 || ckpts > caps::CHECKPOINTS {
            return bad(format!("{ckpts} checkpoints (at most {})", caps::CHECKPOINTS));
        }
        if units.saturating_mul(ckpts + 1) > caps::MAP_CELLS {
            return bad(format!(
                "{units} units × {} columns is more than the {} cells a heat map may show",
                ckpts + 1,
                caps::MAP_CELLS
            ));
        }
        if classes == 0 || classes > caps::CLASSES {
            return bad(format!("{classes} classes (at most {})", caps::CLASSES));
        }
        if units.saturating_mul(ckpts + 2).saturating_mul(classes) > caps::PER_CLASS_VALUES {
            return bad("too many per-class values".into());
        }
        if let Some(long) = self
            .units
            .iter()
            .chain(&self.class_names)
            .find(|n| n.chars().count() > caps::NAME_CHARS)
        {
            return bad(format!(
                "a name of {} characters (at most {})",
                long.chars().count(),
                caps::NAME_CHARS
            ));
        }
        if self.notes.len() > caps::NOTES || self.notes.iter().any(|n| n.chars().count() > caps::NOTE_CHARS) {
            return bad(format!(
                "more than {} notes, or a note over {} characters",
                caps::NOTES,
                caps::NOTE_CHARS
            ));
        }
        if self.timing.backend.chars().count() > caps::NOTE_CHARS {
            return bad("the backend description is too long".into());
        }
        if self.history.len() > caps::EPOCHS || self.loss_curve.len() > caps::CURVE_POINTS {
            return bad(format!(
                "{} epochs of history and {} loss points (at most {} and {})",
                self.history.len(),
                self.loss_curve.len(),
                caps::EPOCHS,
                caps::CURVE_POINTS
            ));
        }
        if !self.checkpoints.windows(2).all(|w| w[0] < w[1]) {
            return bad("checkpoints are not increasing".into());
        }
        let r = &self.robustness;
        let d = &self.distance;
        let grid_ok = |g: &[Vec<f64>]| g.len() == units && g.iter().all(|row| row.len() == ckpts);
        let grid32_ok = |g: &[Vec<f32>]| g.len() == units && g.iter().all(|row| row.len() == ckpts);
        if r.rerandomized.len() != units || !grid_ok(&r.reinitialized) || r.full_model.len() != ckpts {
            return bad("robustness lists do not match units × checkpoints".into());
        }
        if !grid32_ok(&d.l2_relative)
            || !grid32_ok(&d.linf)
            || d.rerandomized_l2_relative.len() != units
            || d.rerandomized_linf.len() != units
        {
            return bad("distance lists do not match units × checkpoints".into());
        }
        if let Some(v) = d
            .l2_relative
            .iter()
            .chain(&d.linf)
            .flatten()
            .chain(&d.rerandomized_l2_relative)
            .chain(&d.rerandomized_linf)
            .find(|v| **v < 0.0)
        {
            return bad(format!("negative distance {v}"));
        }
        let errors = r
            .rerandomized
            .iter()
            .chain(r.reinitialized.iter().flatten())
            .chain(&r.full_model)
            .chain(r.joint.iter().map(|j| &j.test_error))
            .chain(r.joint_rerandomized.iter().map(|j| &j.test_error))
            .chain(self.history.iter().map(|h| &h.test_error))
            .chain(&self.initial_test_error)
            .chain(std::iter::once(&self.final_test_error));
        for e in errors {
            if !is_error_value(*e) {
                return bad(format!("test error {e} outside [0, 1]"));
            }
        }
        let pc = &self.per_class;
        let class_row = |row: &Vec<f64>| row.len() == classes && row.iter().all(|e| is_error_value(*e));
        let per_class_ok = (pc.trained.is_empty() || class_row(&pc.trained))
            && (pc.rerandomized.is_empty()
                || (pc.rerandomized.len() == units && pc.rerandomized.iter().all(class_row)))
            && (pc.reinitialized.is_empty()
                || (pc.reinitialized.len() == units
                    && pc
                        .reinitialized
                        .iter()
                        .all(|u| u.len() == ckpts && u.iter().all(class_row))))
            && (pc.full_model.is_empty()
                || (pc.full_model.len() == ckpts && pc.full_model.iter().all(class_row)));
        if !per_class_ok {
            return bad("per-class lists do not match units × checkpoints × classes".into());
        }
        if !self.class_counts.is_empty() {
            // Checked sum: on wasm32 a crafted file could otherwise wrap it around.
            let sum = self
                .class_counts
                .iter()
                .try_fold(0usize, |acc, &c| acc.checked_add(c));
            if self.class_counts.len() != classes || sum != Some(self.test_examples) {
                return bad("class counts do not match the classes and test examples".into());
            }
        }
        if r.joint_rerandomized.len() > caps::JOINT_SETS
            || r.joint.len() > caps::JOINT_SETS.saturating_mul(ckpts)
            || r.joint
                .iter()
                .map(|j| j.units.len())
                .chain(r.joint_rerandomized.iter().map(|j| j.units.len()))
                .any(|n| n == 0 || n > units)
        {
            return bad("too many joint sets, or a set larger than the model".into());
        }
        for j in &r.joint {
            if !self.checkpoints.contains(&j.checkpoint) {
                return bad(format!("joint entry at unknown checkpoint {}", j.checkpoint));
            }
        }
        for name in r
            .joint
            .iter()
            .flat_map(|j| &j.units)
            .chain(r.joint_rerandomized.iter().flat_map(|j| &j.units))
        {
            if !self.units.contains(name) {
                return bad(format!("joint entry names unknown unit '{name}'"));
            }
        }
        if let Some(done) = self.sweep_cells_done
            && done
                > crate::engine::events::plan_len(crate::engine::events::PlanShape {
                    units,
                    checkpoints: ckpts,
                    joint_sets: r.joint_rerandomized.len(),
                    alphas: self.config.interpolation.len(),
                })
        {
            return bad(format!("{done} sweep cells done, more than the sweep has"));
        }
        if let Some(d) = &self.diverged
            && (d.epoch == 0 || d.epoch > self.config.epochs)
        {
            return bad(format!("diverged in epoch {}, outside the run", d.epoch));
        }
        if let Some(i) = &self.interpolation {
            check_interpolation(i, units, &self.config.interpolation, self.final_test_error)?;
        }
        if self.seed_runs.len() > caps::SEEDS {
            return bad(format!(
                "{} seeds (at most {})",
                self.seed_runs.len(),
                caps::SEEDS
            ));
        }
        if !self.seed_runs.is_empty() {
            self.check_seeds()?;
        }
        if let Some(study) = &self.study {
            study.check(self)?;
        }
        Ok(())
    }

    /// Every seed run has this result's shape and a seed its config names, and the summary
    /// (when there is one) has it too.
    fn check_seeds(&self) -> Result<(), ResultError> {
        let bad = |m: String| Err(ResultError::Shape(m));
        if self.seed_summary.is_none() {
            return bad("seed runs without their summary".into());
        }
        // This result without its seeds and per-class errors (which seed runs do not have).
        let template = ResultFile {
            seed_runs: Vec::new(),
            seed_summary: None,
            study: None,
            per_class: PerClass::default(),
            ..self.clone()
        };
        let shaped_like_this = |final_test_error: f64,
                                robustness: &Robustness,
                                distance: &Distance,
                                interpolation: Option<&Vec<Vec<f64>>>| {
            let mut copy = template.clone();
            copy.final_test_error = final_test_error;
            copy.robustness = robustness.clone();
            copy.distance = distance.clone();
            copy.interpolation = match (&self.interpolation, interpolation) {
                (Some(i), Some(errors)) => Some(Interpolation::new(
                    i.alphas.clone(),
                    errors.clone(),
                    final_test_error,
                    i.epsilon,
                )),
                (None, None) => None,
                _ => return false,
            };
            copy.check_shape().is_ok()
        };
        for run in &self.seed_runs {
            if !self.config.seeds.contains(&run.seed) {
                return bad(format!("seed {} is not one of the config's seeds", run.seed));
            }
            if let Some(i) = &run.interpolation
                && check_interpolation(
                    i,
                    self.units.len(),
                    &self.config.interpolation,
                    run.final_test_error,
                )
                .is_err()
            {
                return bad(format!("seed {}'s interpolation does not fit", run.seed));
            }
            if !shaped_like_this(
                run.final_test_error,
                &run.robustness,
                &run.distance,
                run.interpolation.as_ref().map(|i| &i.test_error),
            ) {
                return bad(format!(
                    "seed {}'s maps do not match the result's shape",
                    run.seed
                ));
            }
        }
        if !self.seed_runs.windows(2).all(|w| w[0].seed < w[1].seed) {
            return bad("seed runs are not in increasing seed order".into());
        }
        let summary = self.seed_summary.as_ref().expect("checked above");
        // A sample standard deviation of fractions is itself in [0, 1], so every statistic
        // passes the same checks as a map.
        for stat in [&summary.mean, &summary.std, &summary.min, &summary.max] {
            if !shaped_like_this(
                stat.final_test_error,
                &stat.robustness,
                &stat.distance,
                stat.interpolation.as_ref(),
            ) {
                return bad("the seed summary does not match the result's shape".into());
            }
        }
        Ok(())
    }
}

/// An interpolation record fits `units` and the config's α values, holds errors, and its
/// criticality is the one its errors give over `baseline` (so a link, which carries only the
/// errors, gives back the same record).
fn check_interpolation(
    i: &Interpolation,
    units: usize,
    alphas: &[f64],
    baseline: f64,
) -> Result<(), ResultError> {
    let bad = |m: &str| Err(ResultError::Shape(m.into()));
    if i.alphas.as_slice() != alphas {
        return bad("the interpolation's α values are not the config's");
    }
    if i.test_error.len() != units
        || i.test_error.iter().any(|row| row.len() != alphas.len())
        || i.criticality.len() != units
    {
        return bad("interpolation lists do not match units × α values");
    }
    let in_range = i.test_error.iter().flatten().all(|e| is_error_value(*e))
        && i.criticality
            .iter()
            .all(|a| a.is_nan() || (0.0..=1.0).contains(a))
        && (0.0..=1.0).contains(&i.epsilon);
    if !in_range {
        return bad("interpolation values outside [0, 1]");
    }
    let consistent = i.test_error.iter().zip(&i.criticality).all(|(row, &given)| {
        Interpolation::criticality_of(alphas, row, baseline, i.epsilon).to_bits() == given.to_bits()
    });
    if !consistent {
        return bad("the interpolation's criticality does not follow from its errors");
    }
    Ok(())
}
