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

mod records;
mod wire;

use crate::engine::config::ExperimentConfig;
use crate::engine::result::{
    self, Distance, Divergence, Interpolation, PerClass, ResultError, ResultFile, Robustness, SeedRun,
    SeedSummary, Study, Timing, caps,
};
use base64::Engine;
use std::io::{Read as _, Write};
use wire::{Frame, Read, Reader, Wire, Writer, corrupt};

/// Version of the binary layout (independent of the JSON result version). Version 2 added the
/// divergence point and the stopped sweep's cell count, version 3 the interpolation and the
/// seeds of a multi-seed run; older links still open.
pub const LINK_VERSION: u8 = 3;
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

/// The binary form of a result (before compression); a multi-seed run's per-seed maps only
/// `with_seed_runs` (its summary always).
fn to_bytes(r: &ResultFile, with_seed_runs: bool) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(2048));
    w.0.extend_from_slice(MAGIC);
    w.byte(LINK_VERSION);
    // The header: what every later part's frame is made of.
    w.string(&r.config.to_query(str::to_string));
    w.strings(&r.units);
    w.varints(&r.checkpoints);
    w.strings(&r.class_names);
    w.varints(&r.class_counts);
    w.varint(r.test_examples as u64);
    w.varint(r.train_examples as u64);
    w.varint(r.parameter_count as u64);
    let frame = Frame {
        version: LINK_VERSION,
        test_examples: r.test_examples,
        units: &r.units,
        checkpoints: r.checkpoints.len(),
        class_counts: &r.class_counts,
        classes: r.class_names.len(),
        alphas: r.config.interpolation.len(),
    };
    let n = r.test_examples;
    w.f64(r.trained_epochs);
    w.byte(r.stopped_early as u8);
    w.fraction(r.final_test_error, n);
    w.list(&r.history, &frame);
    r.robustness.write(&mut w, &frame);
    r.distance.write(&mut w, &frame);
    r.per_class.write(&mut w, &frame);
    r.timing.write(&mut w, &frame);
    w.strings(&r.notes);
    w.varint(r.loss_curve.len() as u64);
    for &(x, y) in &r.loss_curve {
        w.f64(x);
        w.f32(y);
    }
    // Version 2.
    w.option(r.diverged.as_ref(), |w, d| {
        w.varint(d.epoch as u64);
        w.varint(d.step as u64);
    });
    w.option(r.sweep_cells_done.as_ref(), |w, &done| w.varint(done as u64));
    w.option(r.initial_test_error.as_ref(), |w, &e| w.fraction(e, n));
    // Version 3.
    w.option(r.interpolation.as_ref(), |w, i| i.write(w, &frame));
    w.option(r.seed_summary.as_ref(), |w, s| s.write(w, &frame));
    w.list(if with_seed_runs { &r.seed_runs } else { &[] }, &frame);
    w.option(r.study.as_ref(), |w, s| s.rows_only().write(w, &frame));
    w.0
}

/// Room left in a link for the page's own address before `#r=`.
const ADDRESS_ROOM: usize = 512;

/// The link payload for a result (what follows `#r=`). A multi-seed run's per-seed maps travel
/// when they fit; otherwise the link holds the mean maps and their spread only.
pub fn encode(result: &ResultFile) -> String {
    let full = pack(&to_bytes(result, true));
    if result.seed_runs.is_empty() || full.len() + ADDRESS_ROOM <= MAX_LINK_CHARS {
        full
    } else {
        pack(&to_bytes(result, false))
    }
}

/// Deflates and base64url-encodes a binary record.
fn pack(bytes: &[u8]) -> String {
    let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflater.write_all(bytes).expect("writing to memory cannot fail");
    let compressed = deflater.finish().expect("writing to memory cannot fail");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(compressed)
}

fn from_bytes(bytes: &[u8]) -> Read<ResultFile> {
    let mut r = Reader::new(bytes);
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
    let n = r.count(caps::UNITS)?;
    let units = r.repeat(n, |r| r.string())?;
    let n = r.count(caps::CHECKPOINTS)?;
    let checkpoints = r.repeat(n, |r| r.usize())?;
    let n = r.count(caps::CLASSES)?;
    let class_names = r.repeat(n, |r| r.string())?;
    // Checked before any grid is read: the product is what a crafted link inflates.
    let (u, c, classes) = (units.len(), checkpoints.len(), class_names.len());
    if u * (c + 1) > caps::MAP_CELLS || u * (c + 2) * classes > caps::PER_CLASS_VALUES {
        return Err(corrupt("its heat maps are larger than a page can show"));
    }
    let n = r.count(caps::CLASSES)?;
    let class_counts = r.repeat(n, |r| r.usize())?;
    let test_examples = r.usize()?;
    let train_examples = r.usize()?;
    let parameter_count = r.usize()?;
    let frame = Frame {
        version,
        test_examples,
        units: &units,
        checkpoints: c,
        class_counts: &class_counts,
        classes,
        alphas: config.interpolation.len(),
    };
    let trained_epochs = r.f64()?;
    let stopped_early = r.byte()? != 0;
    let final_test_error = r.fraction(test_examples)?;
    let history = r.list(caps::EPOCHS, &frame)?;
    let robustness = Robustness::read(&mut r, &frame)?;
    let distance = Distance::read(&mut r, &frame)?;
    let per_class = PerClass::read(&mut r, &frame)?;
    let timing = Timing::read(&mut r, &frame)?;
    let n = r.count(caps::NOTES)?;
    let notes = r.repeat(n, |r| r.string())?;
    let n = r.count(caps::CURVE_POINTS)?;
    let loss_curve = r.repeat(n, |r| Ok((r.f64()?, r.f32()?)))?;
    let (diverged, sweep_cells_done, initial_test_error) = if frame.version >= 2 {
        (
            r.option(|r| {
                Ok(Divergence {
                    epoch: r.usize()?,
                    step: r.usize()?,
                })
            })?,
            r.option(|r| r.usize())?,
            r.option(|r| r.fraction(test_examples))?,
        )
    } else {
        (None, None, None)
    };
    // The α values are the config's, and each criticality is computed again from its errors.
    let path = |i: Interpolation, baseline: f64| {
        Interpolation::new(config.interpolation.clone(), i.test_error, baseline, i.epsilon)
    };
    let (interpolation, seed_summary, seed_runs, study) = if frame.version >= 3 {
        let interpolation = r.option(|r| Interpolation::read(r, &frame))?;
        let seed_summary = r.option(|r| SeedSummary::read(r, &frame))?;
        let seed_runs: Vec<SeedRun> = r.list(caps::SEEDS, &frame)?;
        let seed_runs = seed_runs
            .into_iter()
            .map(|s| SeedRun {
                interpolation: s.interpolation.map(|i| path(i, s.final_test_error)),
                ..s
            })
            .collect();
        let study = r.option(|r| Study::read(r, &frame))?;
        (
            interpolation.map(|i| path(i, final_test_error)),
            seed_summary,
            seed_runs,
            study,
        )
    } else {
        (None, None, Vec::new(), None)
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
        robustness,
        distance,
        timing,
        class_names,
        per_class,
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
        interpolation,
        seed_runs,
        seed_summary,
        study,
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
mod tests;
