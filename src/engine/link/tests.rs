//! Round trips, old versions, and hostile bytes.

use super::*;
use crate::engine::result::{EpochRecord, JointRecord, JointRerandomized};

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
        units,
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
        interpolation: None,
        seed_runs: Vec::new(),
        seed_summary: None,
        study: None,
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
fn version_1_and_2_links_still_open() {
    let r = sample();
    let mut bytes = to_bytes(&r, true);
    assert_eq!(bytes[2], 3);
    // A version-2 record is the version-3 one without its interpolation, seed summary, seed
    // runs and study (none of them: four zero bytes here).
    assert_eq!(bytes.split_off(bytes.len() - 4), [0, 0, 0, 0]);
    bytes[2] = 2;
    assert_eq!(decode(&pack(&bytes)).unwrap(), r);
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
    let bytes = to_bytes(&r, true);
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
