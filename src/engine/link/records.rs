//! How each part of a result travels: one [`Wire`] impl per part, writer and reader side by
//! side.

use super::wire::{Frame, Read, Reader, Wire, Writer};
use crate::engine::result::{
    Distance, EpochRecord, Interpolation, JointRecord, JointRerandomized, PerClass, Robustness, SeedRun,
    SeedStat, SeedSummary, Study, StudyAxis, StudyRun, Timing, caps,
};

impl Wire for EpochRecord {
    fn write(&self, w: &mut Writer, f: &Frame) {
        w.varint(self.epoch as u64);
        w.f32(self.train_loss);
        w.fraction(self.test_error, f.test_examples);
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        Ok(EpochRecord {
            epoch: r.usize()?,
            train_loss: r.f32()?,
            test_error: r.fraction(f.test_examples)?,
        })
    }
}

impl Wire for JointRecord {
    fn write(&self, w: &mut Writer, f: &Frame) {
        f.write_units(w, &self.units);
        w.varint(self.checkpoint as u64);
        w.fraction(self.test_error, f.test_examples);
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        Ok(JointRecord {
            units: f.read_units(r, caps::UNITS)?,
            checkpoint: r.usize()?,
            test_error: r.fraction(f.test_examples)?,
        })
    }
}

impl Wire for JointRerandomized {
    fn write(&self, w: &mut Writer, f: &Frame) {
        f.write_units(w, &self.units);
        w.fraction(self.test_error, f.test_examples);
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        Ok(JointRerandomized {
            units: f.read_units(r, caps::UNITS)?,
            test_error: r.fraction(f.test_examples)?,
        })
    }
}

/// The maps' grids travel without sizes: units × checkpoints, from the frame.
impl Wire for Robustness {
    fn write(&self, w: &mut Writer, f: &Frame) {
        let n = f.test_examples;
        w.fractions(&self.rerandomized, n);
        for row in &self.reinitialized {
            w.fractions(row, n);
        }
        w.fractions(&self.full_model, n);
        w.list(&self.joint, f);
        w.list(&self.joint_rerandomized, f);
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        let (u, c, n) = (f.units.len(), f.checkpoints, f.test_examples);
        Ok(Robustness {
            rerandomized: r.fractions(u, n)?,
            reinitialized: r.repeat(u, |r| r.fractions(c, n))?,
            full_model: r.fractions(c, n)?,
            joint: r.list(caps::JOINT_SETS * caps::CHECKPOINTS, f)?,
            joint_rerandomized: r.list(caps::JOINT_SETS, f)?,
        })
    }
}

impl Wire for Distance {
    fn write(&self, w: &mut Writer, _: &Frame) {
        for grid in [&self.l2_relative, &self.linf] {
            for row in grid {
                w.f32s(row);
            }
        }
        w.f32s(&self.rerandomized_l2_relative);
        w.f32s(&self.rerandomized_linf);
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        let (u, c) = (f.units.len(), f.checkpoints);
        Ok(Distance {
            l2_relative: r.repeat(u, |r| r.f32s(c))?,
            linf: r.repeat(u, |r| r.f32s(c))?,
            rerandomized_l2_relative: r.f32s(u)?,
            rerandomized_linf: r.f32s(u)?,
        })
    }
}

/// A flag byte says which of the four tables are present; each value is a fraction of its
/// class's test count.
impl Wire for PerClass {
    fn write(&self, w: &mut Writer, f: &Frame) {
        let flags = (!self.trained.is_empty()) as u8
            | ((!self.rerandomized.is_empty()) as u8) << 1
            | ((!self.reinitialized.is_empty()) as u8) << 2
            | ((!self.full_model.is_empty()) as u8) << 3;
        w.byte(flags);
        let counts = f.class_counts;
        w.per_class(&self.trained, counts);
        for row in &self.rerandomized {
            w.per_class(row, counts);
        }
        for unit in &self.reinitialized {
            for row in unit {
                w.per_class(row, counts);
            }
        }
        for row in &self.full_model {
            w.per_class(row, counts);
        }
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        let flags = r.byte()?;
        let (u, c, counts, classes) = (f.units.len(), f.checkpoints, f.class_counts, f.classes);
        let rows = |r: &mut Reader, present: bool, n: usize| -> Read<Vec<Vec<f64>>> {
            if present {
                r.repeat(n, |r| r.per_class(counts, classes))
            } else {
                Ok(Vec::new())
            }
        };
        let trained = if flags & 1 != 0 {
            r.per_class(counts, classes)?
        } else {
            Vec::new()
        };
        let rerandomized = rows(r, flags & 2 != 0, u)?;
        let reinitialized = if flags & 4 != 0 {
            r.repeat(u, |r| rows(r, true, c))?
        } else {
            Vec::new()
        };
        let full_model = rows(r, flags & 8 != 0, c)?;
        Ok(PerClass {
            trained,
            rerandomized,
            reinitialized,
            full_model,
        })
    }
}

impl Wire for Timing {
    fn write(&self, w: &mut Writer, _: &Frame) {
        w.f64(self.train_seconds);
        w.f64(self.sweep_seconds);
        w.f64(self.samples_per_second);
        w.string(&self.backend);
        w.f64(self.first_step_seconds);
        w.f64(self.steady_samples_per_second);
    }
    fn read(r: &mut Reader, _: &Frame) -> Read<Self> {
        Ok(Timing {
            train_seconds: r.f64()?,
            sweep_seconds: r.f64()?,
            samples_per_second: r.f64()?,
            backend: r.string()?,
            first_step_seconds: r.f64()?,
            steady_samples_per_second: r.f64()?,
        })
    }
}

/// An interpolation's errors, `units × α` from the frame (the α values are the config's, and
/// the criticality is computed again from the errors by the reader).
fn write_interpolated(w: &mut Writer, f: &Frame, errors: &[Vec<f64>]) {
    for row in errors {
        w.fractions(row, f.test_examples);
    }
}

fn read_interpolated(r: &mut Reader, f: &Frame) -> Read<Vec<Vec<f64>>> {
    r.repeat(f.units.len(), |r| r.fractions(f.alphas, f.test_examples))
}

impl Wire for Interpolation {
    fn write(&self, w: &mut Writer, f: &Frame) {
        w.f64(self.epsilon);
        write_interpolated(w, f, &self.test_error);
    }
    /// The criticality needs the trained model's error, which the caller has:
    /// [`Interpolation::new`] rebuilds it from these fields.
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        let epsilon = r.f64()?;
        let test_error = read_interpolated(r, f)?;
        Ok(Interpolation {
            alphas: Vec::new(),
            criticality: Vec::new(),
            epsilon,
            test_error,
        })
    }
}

impl Wire for SeedStat {
    fn write(&self, w: &mut Writer, f: &Frame) {
        w.fraction(self.final_test_error, f.test_examples);
        self.robustness.write(w, f);
        self.distance.write(w, f);
        if let Some(errors) = &self.interpolation {
            write_interpolated(w, f, errors);
        }
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        Ok(SeedStat {
            final_test_error: r.fraction(f.test_examples)?,
            robustness: Robustness::read(r, f)?,
            distance: Distance::read(r, f)?,
            interpolation: if f.alphas > 0 {
                Some(read_interpolated(r, f)?)
            } else {
                None
            },
        })
    }
}

impl Wire for SeedSummary {
    fn write(&self, w: &mut Writer, f: &Frame) {
        for stat in [&self.mean, &self.std, &self.min, &self.max] {
            stat.write(w, f);
        }
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        Ok(SeedSummary {
            mean: SeedStat::read(r, f)?,
            std: SeedStat::read(r, f)?,
            min: SeedStat::read(r, f)?,
            max: SeedStat::read(r, f)?,
        })
    }
}

/// A seed's maps; its interpolation (present when the run has α values) travels as errors and
/// gets its α values and criticality back from the reader.
impl Wire for SeedRun {
    fn write(&self, w: &mut Writer, f: &Frame) {
        w.varint(self.seed);
        w.fraction(self.final_test_error, f.test_examples);
        self.robustness.write(w, f);
        self.distance.write(w, f);
        if let Some(i) = &self.interpolation {
            i.write(w, f);
        }
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        Ok(SeedRun {
            seed: r.varint()?,
            final_test_error: r.fraction(f.test_examples)?,
            robustness: Robustness::read(r, f)?,
            distance: Distance::read(r, f)?,
            interpolation: if f.alphas > 0 {
                Some(Interpolation::read(r, f)?)
            } else {
                None
            },
        })
    }
}

/// A study's rows (a link leaves out the runs' whole results): its axes, then per run its axis
/// values, units and errors (fractions of this result's test set, exact or raw).
impl Wire for Study {
    fn write(&self, w: &mut Writer, f: &Frame) {
        w.varint(self.axes.len() as u64);
        for axis in &self.axes {
            w.string(&axis.key);
            w.strings(&axis.values);
        }
        w.varint(self.runs.len() as u64);
        for run in &self.runs {
            w.strings(&run.values);
            w.strings(&run.units);
            w.fraction(run.final_test_error, f.test_examples);
            w.fractions(&run.rerandomized, f.test_examples);
            w.fractions(&run.reinitialized, f.test_examples);
            w.varint(run.first_checkpoint as u64);
        }
    }
    fn read(r: &mut Reader, f: &Frame) -> Read<Self> {
        let n = r.count(caps::STUDY_AXES)?;
        let axes = r.repeat(n, |r| {
            let key = r.string()?;
            let n = r.count(caps::STUDY_RUNS)?;
            Ok(StudyAxis {
                key,
                values: r.repeat(n, |r| r.string())?,
            })
        })?;
        let n = r.count(caps::STUDY_RUNS)?;
        let runs = r.repeat(n, |r| {
            let n = r.count(caps::STUDY_AXES)?;
            let values = r.repeat(n, |r| r.string())?;
            let n = r.count(caps::UNITS)?;
            let units = r.repeat(n, |r| r.string())?;
            Ok(StudyRun {
                values,
                final_test_error: r.fraction(f.test_examples)?,
                rerandomized: r.fractions(units.len(), f.test_examples)?,
                reinitialized: r.fractions(units.len(), f.test_examples)?,
                first_checkpoint: r.usize()?,
                units,
                result: None,
            })
        })?;
        Ok(Study { axes, runs })
    }
}
