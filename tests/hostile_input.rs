//! Thousands of random and mutated share links and result files: every one is answered with an
//! error or a valid result, never a panic. Also prints the link length of the quick preset.

mod common;

use layerlab::engine::link;
use layerlab::engine::presets;
use layerlab::engine::result::ResultFile;
use layerlab::engine::rng::Rng;

/// A real result: the FCN quick preset, trained natively.
fn quick_result() -> ResultFile {
    preset_result(&[])
}

/// The quick preset with two seeds and an interpolation: every version-2 field filled.
fn multi_seed_result() -> ResultFile {
    preset_result(&[
        ("seeds", "0,1"),
        ("interpolation", "0,0.5,1"),
        ("train-limit", "4000"),
    ])
}

/// A two-run study (depth 1 and 2) on a small quick preset.
fn study_result() -> ResultFile {
    use layerlab::engine::study::{StudyPlan, run_study};
    let data = layerlab::engine::data::files::load_mnist(&common::mnist_dir()).unwrap();
    let preset = presets::preset("quick").unwrap();
    let base: Vec<(&str, &str)> = preset
        .pairs
        .iter()
        .copied()
        .chain([("train-limit", "2000"), ("test-limit", "1000")])
        .collect();
    let plan = StudyPlan::new(&base, &[("depth", vec!["1", "2"])]).unwrap();
    pollster::block_on(run_study(
        &plan,
        &data,
        &burn::tensor::Device::flex(),
        "cpu (flex)",
        &mut common::Quiet,
    ))
    .unwrap()
}

/// What a link gives back of `result`: all of it, but a study's rows without the runs' whole
/// results.
fn as_linked(mut result: ResultFile) -> ResultFile {
    result.study = result.study.map(|s| s.rows_only());
    result
}

fn preset_result(extra: &[(&str, &str)]) -> ResultFile {
    let data = layerlab::engine::data::files::load_mnist(&common::mnist_dir()).unwrap();
    let preset = presets::preset("quick").unwrap();
    let pairs = preset.pairs.iter().copied().chain(extra.iter().copied());
    let c = layerlab::engine::ExperimentConfig::from_pairs(pairs).unwrap();
    pollster::block_on(layerlab::engine::run_experiment(
        &c,
        &data,
        &burn::tensor::Device::flex(),
        "cpu (flex)",
        &mut common::Quiet,
    ))
    .unwrap()
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, alphabet: &[u8]) {
    match rng.below(6) {
        0 if !bytes.is_empty() => {
            let at = rng.below(bytes.len() as u64) as usize;
            bytes[at] ^= 1 << rng.below(8);
        }
        1 if !bytes.is_empty() => {
            let at = rng.below(bytes.len() as u64) as usize;
            bytes[at] = alphabet[rng.below(alphabet.len() as u64) as usize];
        }
        2 => {
            let keep = rng.below(bytes.len() as u64 + 1) as usize;
            bytes.truncate(keep);
        }
        3 => {
            let at = rng.below(bytes.len() as u64 + 1) as usize;
            bytes.insert(at, alphabet[rng.below(alphabet.len() as u64) as usize]);
        }
        4 if bytes.len() > 1 => {
            let at = rng.below(bytes.len() as u64 - 1) as usize;
            bytes.remove(at);
        }
        _ => {
            let a = rng.below(bytes.len() as u64 + 1) as usize;
            let b = rng.below(bytes.len() as u64 + 1) as usize;
            let (a, b) = (a.min(b), a.max(b));
            let chunk: Vec<u8> = bytes[a..b].to_vec();
            bytes.extend_from_slice(&chunk);
        }
    }
}

#[test]
fn hostile_links_and_files_never_panic() {
    hostile_links_and_files(quick_result());
}

#[test]
fn hostile_multi_seed_links_and_files_never_panic() {
    hostile_links_and_files(multi_seed_result());
}

#[test]
fn hostile_study_links_and_files_never_panic() {
    hostile_links_and_files(study_result());
}

fn hostile_links_and_files(result: ResultFile) {
    let link = link::encode(&result);
    println!(
        "share link of a quick-preset result: {} characters (#r= payload)",
        link.len()
    );
    assert!(
        link.len() + 3 < 4096,
        "the quick preset's link must fit in 4 KB: {}",
        link.len()
    );
    assert_eq!(
        link::decode(&link).unwrap(),
        as_linked(result.clone()),
        "links are lossless"
    );

    let base64: Vec<u8> = (b'A'..=b'Z')
        .chain(b'a'..=b'z')
        .chain(b'0'..=b'9')
        .chain([b'-', b'_'])
        .collect();
    let any: Vec<u8> = (0..=255).collect();
    let mut rng = Rng::from_seed(2026);
    let (mut ok, mut errors) = (0, 0);
    for i in 0..4000 {
        let candidate = if i % 4 == 0 {
            // Random base64url text of random length.
            let n = rng.below(600) as usize;
            (0..n)
                .map(|_| base64[rng.below(64) as usize])
                .collect::<Vec<u8>>()
        } else {
            let mut bytes = link.clone().into_bytes();
            for _ in 0..=rng.below(4) {
                mutate(&mut rng, &mut bytes, if i % 3 == 0 { &any } else { &base64 });
            }
            bytes
        };
        let text = String::from_utf8_lossy(&candidate);
        match std::panic::catch_unwind(|| link::decode(&text)) {
            Ok(Ok(decoded)) => {
                decoded.check_shape().unwrap();
                ok += 1;
            }
            Ok(Err(_)) => errors += 1,
            Err(_) => panic!("decoding panicked on {text:?}"),
        }
    }
    println!("links: {ok} decoded to valid results, {errors} rejected");
    assert!(errors > 3000);

    let json = result.to_json().into_bytes();
    let (mut ok, mut errors) = (0, 0);
    for i in 0..3000 {
        let mut bytes = json.clone();
        for _ in 0..=rng.below(3) {
            mutate(
                &mut rng,
                &mut bytes,
                if i % 2 == 0 {
                    b"{}[]\",:0123456789.-eE truefalsnu"
                } else {
                    &any
                },
            );
        }
        let text = String::from_utf8_lossy(&bytes);
        match std::panic::catch_unwind(|| ResultFile::from_json(&text)) {
            Ok(Ok(decoded)) => {
                decoded.check_shape().unwrap();
                ok += 1;
            }
            Ok(Err(_)) => errors += 1,
            Err(_) => panic!("parsing panicked on a mutated file"),
        }
    }
    println!("files: {ok} parsed to valid results, {errors} rejected");
    for foreign in [
        "",
        "null",
        "[]",
        "{}",
        "{\"format\":\"layerlab-result\",\"version\":99}",
        "{\"format\":7}",
    ] {
        assert!(ResultFile::from_json(foreign).is_err(), "{foreign}");
    }
}

/// Every leaf of a real result file replaced by a hostile value, every list truncated, emptied
/// or stretched: each variant is an error or a valid result, never a panic, and the readers'
/// caps hold (no accepted variant exceeds them).
#[test]
fn structure_aware_variants_of_a_result_file() {
    structure_aware_variants(quick_result());
}

#[test]
fn structure_aware_variants_of_a_multi_seed_result_file() {
    structure_aware_variants(multi_seed_result());
}

#[test]
fn structure_aware_variants_of_a_study_file() {
    structure_aware_variants(study_result());
}

fn structure_aware_variants(result: ResultFile) {
    use serde_json::Value;
    let original: Value = serde_json::from_str(&result.to_json()).unwrap();

    // Paths to every node, so each can be replaced in turn.
    fn paths(value: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(at.clone());
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    at.push(k.clone());
                    paths(v, at, out);
                    at.pop();
                }
            }
            // Long lists: their first two and last items stand for the rest.
            Value::Array(items) => {
                let n = items.len();
                for i in [0, 1, n.saturating_sub(1)].into_iter().filter(|&i| i < n) {
                    at.push(i.to_string());
                    paths(&items[i], at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    fn node<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
        path.iter().fold(value, |v, k| match v {
            Value::Array(items) => &mut items[k.parse::<usize>().unwrap()],
            other => &mut other[k.as_str()],
        })
    }
    let mut all = Vec::new();
    paths(&original, &mut Vec::new(), &mut all);
    all.dedup();
    let hostile_leaves = [
        serde_json::json!("NaN"),
        serde_json::json!("Infinity"),
        serde_json::json!("-Infinity"),
        serde_json::json!(-1),
        serde_json::json!(2),
        serde_json::json!(1e308),
        serde_json::json!(u64::MAX),
        serde_json::json!(null),
        serde_json::json!("x".repeat(100_000)),
        serde_json::json!([]),
        serde_json::json!({}),
    ];
    let (mut variants, mut accepted) = (0, 0);
    let mut check = |value: &Value| {
        variants += 1;
        let text = value.to_string();
        match std::panic::catch_unwind(|| ResultFile::from_json(&text)) {
            Ok(Ok(decoded)) => {
                decoded.check_shape().unwrap();
                // What was accepted must also travel through a link and back.
                let back = link::decode(&link::encode(&decoded)).unwrap();
                assert_eq!(back.to_json(), as_linked(decoded.clone()).to_json());
                accepted += 1;
            }
            Ok(Err(_)) => {}
            Err(_) => panic!("parsing panicked on {}", &text[..text.len().min(300)]),
        }
    };
    for path in &all {
        for leaf in &hostile_leaves {
            let mut v = original.clone();
            *node(&mut v, path) = leaf.clone();
            check(&v);
        }
        let mut v = original.clone();
        if let Value::Array(items) = node(&mut v, path) {
            let copy = items.clone();
            // Stretched to many times its length, halved, emptied.
            let mut long = Vec::new();
            while long.len() < 5000 && !copy.is_empty() {
                long.extend(copy.iter().cloned());
            }
            for list in [long, copy[..copy.len() / 2].to_vec(), Vec::new()] {
                let mut v = original.clone();
                *node(&mut v, path) = Value::Array(list);
                check(&v);
            }
        }
    }
    println!("result files: {variants} structure-aware variants, {accepted} accepted as valid");
    assert!(variants > 2000, "{variants}");
}
