//! Share links: a whole result, losslessly, in a URL fragment (`#r=…`).
//!
//! A compact binary form of the result file, deflated and base64url-encoded. Test errors are
//! fractions of the test set, so they travel as integer counts (exact, and a byte or two each);
//! any value that is not an exact fraction travels as its raw f64 bits instead, so decoding
//! always gives back exactly what was encoded. Distances and losses travel as f32 bits.
//!
//! Decoding treats the link as hostile: every length is bounded by what is left, the inflated
//! size is capped, and the result must pass the same checks as a result file. Any failure is a
//! [`LinkError`], never a panic.

use crate::engine::config::ExperimentConfig;
use crate::engine::result::{
    self, Distance, Divergence, EpochRecord, JointRecord, JointRerandomized, PerClass, ResultError,
    ResultFile, Robustness, Timing, caps,
};
use base64::Engine;
use std::io::{Read, Write};

/// Version of the binary layout (independent of the JSON result version). Version 2 added the
/// divergence point and the stopped sweep's cell count; version 1 links still open.
pub const LINK_VERSION: u8 = 2;
/// Links longer than this are not offered; the page offers the result file instead.
pub const MAX_LINK_CHARS: usize = 16_000;
/// Cap on the inflated payload (a real result is a few kilobytes; the largest a result's caps
/// allow is a few hundred).
const MAX_INFLATED: u64 = 1024 * 1024;
const MAGIC: &[u8; 2] = b"LL";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    #[error("the link holds no result")]
    Empty,
    #[error("the link is damaged (not base64url text)")]
    NotBase64,
    #[error("the link is damaged ({0})")]
    Corrupt(String),
    #[error("the link was made by a newer LayerLab (format {0}; this one reads {LINK_VERSION})")]
    Version(u8),
    #[error("the link is too large ({0} characters)")]
    TooLarge(usize),
    #[error("the link holds an invalid result: {0}")]
    Invalid(ResultError),
}

// ---- writing ----

struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn string(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    /// A fraction of `denominator`: its count when exact, else the raw value.
    fn fraction(&mut self, value: f64, denominator: usize) {
        if denominator > 0 && value.is_finite() && value >= 0.0 {
            let count = (value * denominator as f64).round();
            if count <= u32::MAX as f64 && count / denominator as f64 == value {
                self.varint(2 * count as u64);
                return;
            }
        }
        self.varint(1);
        self.f64(value);
    }
    fn fractions(&mut self, values: &[f64], denominator: usize) {
        for &v in values {
            self.fraction(v, denominator);
        }
    }
    fn per_class(&mut self, values: &[f64], counts: &[usize]) {
        for (i, &v) in values.iter().enumerate() {
            self.fraction(v, counts.get(i).copied().unwrap_or(0));
        }
    }
}

/// The binary form of a result (before compression).
fn to_bytes(r: &ResultFile) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(2048));
    w.0.extend_from_slice(MAGIC);
    w.0.push(LINK_VERSION);
    let config: Vec<String> = r
        .config
        .to_pairs()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    w.string(&config.join("&"));
    w.varint(r.units.len() as u64);
    for u in &r.units {
        w.string(u);
    }
    w.varint(r.checkpoints.len() as u64);
    for &c in &r.checkpoints {
        w.varint(c as u64);
    }
    w.varint(r.class_names.len() as u64);
    for c in &r.class_names {
        w.string(c);
    }
    w.varint(r.class_counts.len() as u64);
    for &c in &r.class_counts {
        w.varint(c as u64);
    }
    w.varint(r.test_examples as u64);
    w.varint(r.train_examples as u64);
    w.varint(r.parameter_count as u64);
    w.f64(r.trained_epochs);
    w.0.push(r.stopped_early as u8);
    let n = r.test_examples;
    w.fraction(r.final_test_error, n);
    w.varint(r.history.len() as u64);
    for h in &r.history {
        w.varint(h.epoch as u64);
        w.f32(h.train_loss);
        w.fraction(h.test_error, n);
    }
    let rb = &r.robustness;
    w.fractions(&rb.rerandomized, n);
    for row in &rb.reinitialized {
        w.fractions(row, n);
    }
    w.fractions(&rb.full_model, n);
    let unit_index = |name: &String| r.units.iter().position(|u| u == name).unwrap_or(0) as u64;
    w.varint(rb.joint.len() as u64);
    for j in &rb.joint {
        w.varint(j.units.len() as u64);
        for u in &j.units {
            w.varint(unit_index(u));
        }
        w.varint(j.checkpoint as u64);
        w.fraction(j.test_error, n);
    }
    w.varint(rb.joint_rerandomized.len() as u64);
    for j in &rb.joint_rerandomized {
        w.varint(j.units.len() as u64);
        for u in &j.units {
            w.varint(unit_index(u));
        }
        w.fraction(j.test_error, n);
    }
    let d = &r.distance;
    for grid in [&d.l2_relative, &d.linf] {
        for row in grid {
            for &v in row {
                w.f32(v);
            }
        }
    }
    for list in [&d.rerandomized_l2_relative, &d.rerandomized_linf] {
        for &v in list {
            w.f32(v);
        }
    }
    let pc = &r.per_class;
    let flags = (!pc.trained.is_empty()) as u8
        | ((!pc.rerandomized.is_empty()) as u8) << 1
        | ((!pc.reinitialized.is_empty()) as u8) << 2
        | ((!pc.full_model.is_empty()) as u8) << 3;
    w.0.push(flags);
    let counts = &r.class_counts;
    w.per_class(&pc.trained, counts);
    for row in &pc.rerandomized {
        w.per_class(row, counts);
    }
    for unit in &pc.reinitialized {
        for row in unit {
            w.per_class(row, counts);
        }
    }
    for row in &pc.full_model {
        w.per_class(row, counts);
    }
    w.f64(r.timing.train_seconds);
    w.f64(r.timing.sweep_seconds);
    w.f64(r.timing.samples_per_second);
    w.string(&r.timing.backend);
    w.f64(r.timing.first_step_seconds);
    w.f64(r.timing.steady_samples_per_second);
    w.varint(r.notes.len() as u64);
    for note in &r.notes {
        w.string(note);
    }
    w.varint(r.loss_curve.len() as u64);
    for &(x, y) in &r.loss_curve {
        w.f64(x);
        w.f32(y);
    }
    // Version 2.
    match &r.diverged {
        Some(d) => {
            w.0.push(1);
            w.varint(d.epoch as u64);
            w.varint(d.step as u64);
        }
        None => w.0.push(0),
    }
    match r.sweep_cells_done {
        Some(done) => {
            w.0.push(1);
            w.varint(done as u64);
        }
        None => w.0.push(0),
    }
    match r.initial_test_error {
        Some(e) => {
            w.0.push(1);
            w.fraction(e, n);
        }
        None => w.0.push(0),
    }
    w.0
}

/// The link payload for a result (what follows `#r=`).
pub fn encode(result: &ResultFile) -> String {
    pack(&to_bytes(result))
}

/// Deflates and base64url-encodes a binary record.
fn pack(bytes: &[u8]) -> String {
    let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflater.write_all(bytes).expect("writing to memory cannot fail");
    let compressed = deflater.finish().expect("writing to memory cannot fail");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(compressed)
}

// ---- reading ----

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type Read_<T> = Result<T, LinkError>;

fn corrupt(what: &str) -> LinkError {
    LinkError::Corrupt(what.to_string())
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }
    fn take(&mut self, n: usize) -> Read_<&'a [u8]> {
        if n > self.left() {
            return Err(corrupt("it ends too early"));
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }
    fn byte(&mut self) -> Read_<u8> {
        Ok(self.take(1)?[0])
    }
    fn varint(&mut self) -> Read_<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("a number is too long"))
    }
    /// A count of items that each take at least one byte (so it cannot exceed what is left).
    fn count(&mut self, limit: usize) -> Read_<usize> {
        let n = self.varint()?;
        if n > limit as u64 || n > self.left() as u64 {
            return Err(corrupt("a list is longer than possible"));
        }
        Ok(n as usize)
    }
    fn usize(&mut self) -> Read_<usize> {
        let v = self.varint()?;
        usize::try_from(v).map_err(|_| corrupt("a number is out of range"))
    }
    fn f32(&mut self) -> Read_<f32> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn f64(&mut self) -> Read_<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn string(&mut self) -> Read_<String> {
        let n = self.count(1 << 16)?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt("text is not UTF-8"))
    }
    fn fraction(&mut self, denominator: usize) -> Read_<f64> {
        let v = self.varint()?;
        if v == 1 {
            return self.f64();
        }
        if v & 1 == 1 || denominator == 0 {
            return Err(corrupt("a value has an unknown form"));
        }
        Ok((v / 2) as f64 / denominator as f64)
    }
    fn fractions(&mut self, n: usize, denominator: usize) -> Read_<Vec<f64>> {
        if n > self.left() {
            return Err(corrupt("a list is longer than possible"));
        }
        (0..n).map(|_| self.fraction(denominator)).collect()
    }
    fn per_class(&mut self, counts: &[usize], classes: usize) -> Read_<Vec<f64>> {
        (0..classes)
            .map(|i| self.fraction(counts.get(i).copied().unwrap_or(0)))
            .collect()
    }
    fn f32s(&mut self, n: usize) -> Read_<Vec<f32>> {
        if n.saturating_mul(4) > self.left() {
            return Err(corrupt("it ends too early"));
        }
        (0..n).map(|_| self.f32()).collect()
    }
}

fn from_bytes(bytes: &[u8]) -> Read_<ResultFile> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(2)? != MAGIC {
        return Err(corrupt("it is not a LayerLab link"));
    }
    let version = r.byte()?;
    if version == 0 || version > LINK_VERSION {
        return Err(LinkError::Version(version));
    }
    let config_text = r.string()?;
    let pairs: Vec<(&str, &str)> = config_text
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let config =
        ExperimentConfig::from_pairs(pairs).map_err(|e| LinkError::Corrupt(format!("its config: {e}")))?;
    let units = (0..r.count(caps::UNITS)?)
        .map(|_| r.string())
        .collect::<Read_<Vec<_>>>()?;
    let checkpoints = (0..r.count(caps::CHECKPOINTS)?)
        .map(|_| r.usize())
        .collect::<Read_<Vec<_>>>()?;
    let class_names = (0..r.count(caps::CLASSES)?)
        .map(|_| r.string())
        .collect::<Read_<Vec<_>>>()?;
    // Checked before any grid is read: the product is what a crafted link inflates.
    let (u, c, classes) = (units.len(), checkpoints.len(), class_names.len());
    if u * (c + 1) > caps::MAP_CELLS || u * (c + 2) * classes > caps::PER_CLASS_VALUES {
        return Err(corrupt("its heat maps are larger than a page can show"));
    }
    let class_counts = (0..r.count(caps::CLASSES)?)
        .map(|_| r.usize())
        .collect::<Read_<Vec<_>>>()?;
    let test_examples = r.usize()?;
    let train_examples = r.usize()?;
    let parameter_count = r.usize()?;
    let trained_epochs = r.f64()?;
    let stopped_early = r.byte()? != 0;
    let n = test_examples;
    let final_test_error = r.fraction(n)?;
    let history = (0..r.count(caps::EPOCHS)?)
        .map(|_| {
            Ok(EpochRecord {
                epoch: r.usize()?,
                train_loss: r.f32()?,
                test_error: r.fraction(n)?,
            })
        })
        .collect::<Read_<Vec<_>>>()?;
    let rerandomized = r.fractions(u, n)?;
    let reinitialized = (0..u).map(|_| r.fractions(c, n)).collect::<Read_<Vec<_>>>()?;
    let full_model = r.fractions(c, n)?;
    let unit_name = |i: usize| {
        units
            .get(i)
            .cloned()
            .ok_or_else(|| corrupt("a joint set names an unknown unit"))
    };
    let joint = (0..r.count(caps::JOINT_SETS * caps::CHECKPOINTS)?)
        .map(|_| {
            let names = (0..r.count(caps::UNITS)?)
                .map(|_| unit_name(r.usize()?))
                .collect::<Read_<Vec<_>>>()?;
            Ok(JointRecord {
                units: names,
                checkpoint: r.usize()?,
                test_error: r.fraction(n)?,
            })
        })
        .collect::<Read_<Vec<_>>>()?;
    let joint_rerandomized = (0..r.count(caps::JOINT_SETS)?)
        .map(|_| {
            let names = (0..r.count(caps::UNITS)?)
                .map(|_| unit_name(r.usize()?))
                .collect::<Read_<Vec<_>>>()?;
            Ok(JointRerandomized {
                units: names,
                test_error: r.fraction(n)?,
            })
        })
        .collect::<Read_<Vec<_>>>()?;
    let l2_relative = (0..u).map(|_| r.f32s(c)).collect::<Read_<Vec<_>>>()?;
    let linf = (0..u).map(|_| r.f32s(c)).collect::<Read_<Vec<_>>>()?;
    let rerandomized_l2_relative = r.f32s(u)?;
    let rerandomized_linf = r.f32s(u)?;
    let flags = r.byte()?;
    let counts = &class_counts;
    let trained = if flags & 1 != 0 {
        r.per_class(counts, classes)?
    } else {
        Vec::new()
    };
    let pc_rerandomized = if flags & 2 != 0 {
        (0..u)
            .map(|_| r.per_class(counts, classes))
            .collect::<Read_<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let pc_reinitialized = if flags & 4 != 0 {
        (0..u)
            .map(|_| {
                (0..c)
                    .map(|_| r.per_class(counts, classes))
                    .collect::<Read_<Vec<_>>>()
            })
            .collect::<Read_<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let pc_full = if flags & 8 != 0 {
        (0..c)
            .map(|_| r.per_class(counts, classes))
            .collect::<Read_<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let timing = Timing {
        train_seconds: r.f64()?,
        sweep_seconds: r.f64()?,
        samples_per_second: r.f64()?,
        backend: r.string()?,
        first_step_seconds: r.f64()?,
        steady_samples_per_second: r.f64()?,
    };
    let notes = (0..r.count(caps::NOTES)?)
        .map(|_| r.string())
        .collect::<Read_<Vec<_>>>()?;
    let loss_curve = (0..r.count(caps::CURVE_POINTS)?)
        .map(|_| Ok((r.f64()?, r.f32()?)))
        .collect::<Read_<Vec<_>>>()?;
    let (diverged, sweep_cells_done, initial_test_error) = if version >= 2 {
        let diverged = match r.byte()? {
            0 => None,
            1 => Some(Divergence {
                epoch: r.usize()?,
                step: r.usize()?,
            }),
            _ => return Err(corrupt("a flag has an unknown value")),
        };
        let done = match r.byte()? {
            0 => None,
            1 => Some(r.usize()?),
            _ => return Err(corrupt("a flag has an unknown value")),
        };
        let initial = match r.byte()? {
            0 => None,
            1 => Some(r.fraction(n)?),
            _ => return Err(corrupt("a flag has an unknown value")),
        };
        (diverged, done, initial)
    } else {
        (None, None, None)
    };
    if r.left() != 0 {
        return Err(corrupt("it has extra bytes at the end"));
    }
    let result = ResultFile {
        format: result::FORMAT.into(),
        version: result::VERSION,
        config,
        units,
        checkpoints,
        final_test_error,
        history,
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
        timing,
        class_names,
        per_class: PerClass {
            trained,
            rerandomized: pc_rerandomized,
            reinitialized: pc_reinitialized,
            full_model: pc_full,
        },
        trained_epochs,
        stopped_early,
        train_examples,
        test_examples,
        parameter_count,
        notes,
        class_counts,
        loss_curve,
        diverged,
        sweep_cells_done,
        initial_test_error,
    };
    result.check_shape().map_err(LinkError::Invalid)?;
    Ok(result)
}

/// Decodes a link payload (what follows `#r=`).
pub fn decode(payload: &str) -> Result<ResultFile, LinkError> {
    let payload = payload.trim();
    if payload.is_empty() {
        return Err(LinkError::Empty);
    }
    if payload.len() > MAX_LINK_CHARS * 4 {
        return Err(LinkError::TooLarge(payload.len()));
    }
    let compressed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| LinkError::NotBase64)?;
    let mut bytes = Vec::new();
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| corrupt("its compressed data is broken"))?;
    if bytes.len() as u64 > MAX_INFLATED {
        return Err(corrupt("it inflates to more than a result can be"));
    }
    from_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result with every field populated, errors as exact fractions and a few that are not.
    pub fn sample() -> ResultFile {
        let units: Vec<String> = (1..=4).map(|i| format!("layer{i}")).collect();
        let checkpoints = vec![0, 1, 2];
        let n = 1000;
        let class_counts = vec![100; 10];
        let frac = |k: usize| k as f64 / n as f64;
        ResultFile {
            format: result::FORMAT.into(),
            version: result::VERSION,
            config: ExperimentConfig::from_pairs([
                ("epochs", "2"),
                ("checkpoints", "0,1,2"),
                ("joint", "layer2,layer3"),
            ])
            .unwrap(),
            units: units.clone(),
            checkpoints: checkpoints.clone(),
            final_test_error: frac(27),
            history: vec![
                EpochRecord {
                    epoch: 1,
                    train_loss: 0.53,
                    test_error: frac(55),
                },
                EpochRecord {
                    epoch: 2,
                    train_loss: 0.149,
                    test_error: frac(27),
                },
            ],
            robustness: Robustness {
                rerandomized: vec![frac(894), frac(882), 0.123456789, frac(888)],
                reinitialized: (0..4)
                    .map(|u| vec![frac(400 - u * 90), frac(60), frac(27)])
                    .collect(),
                full_model: vec![frac(900), frac(55), frac(27)],
                joint: vec![JointRecord {
                    units: vec!["layer2".into(), "layer3".into()],
                    checkpoint: 1,
                    test_error: frac(70),
                }],
                joint_rerandomized: vec![JointRerandomized {
                    units: vec!["layer2".into(), "layer3".into()],
                    test_error: frac(901),
                }],
            },
            distance: Distance {
                l2_relative: vec![vec![0.0, 0.349, 0.437]; 4],
                linf: vec![vec![0.0, 0.083, 0.11]; 4],
                rerandomized_l2_relative: vec![1.414; 4],
                rerandomized_linf: vec![0.071; 4],
            },
            timing: Timing {
                train_seconds: 12.1,
                sweep_seconds: 3.5,
                samples_per_second: 25974.2,
                backend: "cpu (flex)".into(),
                first_step_seconds: 0.01,
                steady_samples_per_second: 26000.5,
            },
            class_names: (0..10).map(|d| d.to_string()).collect(),
            per_class: PerClass {
                trained: (0..10).map(|c| c as f64 / 100.0).collect(),
                rerandomized: vec![(0..10).map(|c| (90 - c) as f64 / 100.0).collect(); 4],
                reinitialized: vec![vec![vec![0.05; 10]; 3]; 4],
                full_model: vec![vec![0.9; 10]; 3],
            },
            trained_epochs: 2.0,
            stopped_early: false,
            train_examples: 60000,
            test_examples: n,
            parameter_count: 335114,
            notes: vec!["a note".into()],
            class_counts,
            loss_curve: vec![(0.01, 2.3), (1.0, 0.53), (2.0, 0.149)],
            diverged: None,
            sweep_cells_done: None,
            initial_test_error: Some(frac(901)),
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let r = sample();
        r.check_shape().unwrap();
        let link = encode(&r);
        assert_eq!(decode(&link).unwrap(), r);
        assert!(link.len() < 1500, "{}", link.len());
    }

    #[test]
    fn version_1_links_still_open() {
        let r = sample();
        let mut bytes = to_bytes(&r);
        assert_eq!(bytes[2], 2);
        // A version-1 record is the version-2 one without its three trailing fields.
        bytes[2] = 1;
        let mut tail = Writer(vec![0, 0, 1]);
        tail.fraction(901.0 / 1000.0, 1000);
        assert_eq!(bytes.split_off(bytes.len() - tail.0.len()), tail.0);
        let mut v1 = r.clone();
        v1.initial_test_error = None;
        assert_eq!(decode(&pack(&bytes)).unwrap(), v1);
    }

    #[test]
    fn non_finite_values_and_stopped_runs_travel_losslessly() {
        let mut r = sample();
        r.robustness.rerandomized[1] = f64::NAN;
        r.robustness.reinitialized[2] = vec![f64::NAN; 3];
        r.per_class.rerandomized[1] = vec![f64::NAN; 10];
        r.distance.l2_relative[3][2] = f32::NAN;
        r.distance.linf[3][2] = f32::INFINITY;
        r.history[1].train_loss = f32::NAN;
        r.loss_curve.push((1.5, f32::INFINITY));
        r.diverged = Some(Divergence { epoch: 2, step: 17 });
        r.sweep_cells_done = Some(9);
        r.check_shape().unwrap();
        let back = decode(&encode(&r)).unwrap();
        // NaN != NaN, so compare the lossless JSON of both.
        assert_eq!(back.to_json(), r.to_json());
        assert!(back.robustness.rerandomized[1].is_nan());
        assert_eq!(back.distance.linf[3][2], f32::INFINITY);
        let json = ResultFile::from_json(&r.to_json()).unwrap();
        assert_eq!(json.to_json(), r.to_json());
    }

    /// Builds records field by field, with lengths a hostile author chooses.
    fn crafted(units: usize, checkpoints: usize, classes: usize) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.0.push(LINK_VERSION);
        w.string("epochs=2&checkpoints=0,1,2");
        w.varint(units as u64);
        for i in 0..units {
            w.string(&format!("u{i}"));
        }
        w.varint(checkpoints as u64);
        for i in 0..checkpoints {
            w.varint(i as u64);
        }
        w.varint(classes as u64);
        for i in 0..classes {
            w.string(&i.to_string());
        }
        w.0
    }

    #[test]
    fn crafted_lengths_are_refused_before_anything_is_built() {
        // 500 units × 256 checkpoints is far over a map's cells: refused at once.
        let err = decode(&pack(&crafted(500, 256, 10))).unwrap_err();
        assert!(
            matches!(&err, LinkError::Corrupt(m) if m.contains("larger than a page")),
            "{err}"
        );
        // Huge-but-valid counts with nothing behind them end early, they do not allocate.
        for (u, c, k) in [(80, 100, 10), (1, 1, 1000), (512, 1, 1), (4, 255, 200)] {
            assert!(decode(&pack(&crafted(u, c, k))).is_err());
        }
        // A count that does not fit any integer.
        let mut bytes = crafted(0, 0, 0);
        bytes.truncate(bytes.len() - 3);
        bytes.extend_from_slice(&[0xff; 12]);
        assert!(decode(&pack(&bytes)).is_err());
    }

    #[test]
    fn every_byte_set_to_hostile_values_is_an_error_or_a_valid_result() {
        let mut r = sample();
        r.robustness.full_model[0] = f64::NAN;
        let bytes = to_bytes(&r);
        let mut valid = 0;
        for at in 0..bytes.len() {
            for value in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff] {
                let mut altered = bytes.clone();
                altered[at] = value;
                if let Ok(decoded) = decode(&pack(&altered)) {
                    decoded.check_shape().unwrap();
                    valid += 1;
                }
            }
        }
        println!(
            "links: {} single-byte variants of a record, {valid} valid",
            bytes.len() * 6
        );
        assert!(
            valid > 0,
            "some alterations (e.g. of a loss value) are still valid results"
        );
    }

    #[test]
    fn damaged_links_are_errors() {
        let link = encode(&sample());
        assert_eq!(decode(""), Err(LinkError::Empty));
        assert_eq!(decode("***"), Err(LinkError::NotBase64));
        assert!(decode(&link[..link.len() / 2]).is_err());
        assert!(matches!(
            decode(&link[..(link.len() / 2) / 4 * 4]),
            Err(LinkError::Corrupt(_))
        ));
        assert!(decode("AAAA").is_err());
    }
}
