//! The `layerlab` binary: bad input gives one clear line and exit status 2; a run writes a
//! result that `show` reads back.

mod common;

use std::process::Command;

fn layerlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_layerlab"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_usage_error(args: &[&str], expected: &str) {
    let (code, _, stderr) = layerlab(args);
    assert_eq!(code, 2, "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains(expected),
        "{args:?}: expected '{expected}' in {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    assert_usage_error(
        &["run", "--lr", "fast", "--data", "x"],
        "option 'lr': 'fast' is not a number",
    );
    assert_usage_error(
        &["run", "--epochs", "2", "--checkpoints", "0,5", "--data", "x"],
        "checkpoint 5",
    );
    assert_usage_error(&["run", "--colour", "red"], "unknown option '--colour'");
    assert_usage_error(&["run", "--model", "fcn"], "missing --data");
    assert_usage_error(&["run", "--model", "alexnet", "--data", "x"], "option 'model'");
    assert_usage_error(
        &["run", "--preset", "nope", "--data", "x"],
        "unknown preset 'nope'",
    );
    assert_usage_error(&["run", "--epochs"], "needs a value");
    assert_usage_error(&["frobnicate"], "unknown command");
    assert_usage_error(&["run", "--data", "/nonexistent/dir"], "/nonexistent/dir");
    assert_usage_error(&["show", "/nonexistent/result.json"], "cannot be read");
    // Seeds, interpolations and studies.
    assert_usage_error(&["run", "--seeds", "0-99999", "--data", "x"], "option 'seeds'");
    assert_usage_error(&["run", "--seeds", "4-2", "--data", "x"], "option 'seeds'");
    assert_usage_error(
        &["run", "--interpolation", "0,1.5", "--data", "x"],
        "between 0 and 1",
    );
    assert_usage_error(&["study", "--data", "x"], "a study varies 1 to 4 keys");
    assert_usage_error(&["study", "--depth", "2,x", "--data", "x"], "option 'depth'");
    assert_usage_error(
        &["study", "--depth", "2,3", "--data", "/nonexistent/dir"],
        "/nonexistent/dir",
    );
    assert_usage_error(
        &["study", "--model", "fcn,vgg11", "--data", "x"],
        "every run of a study uses one data set",
    );
}

#[test]
fn corrupt_data_file_is_named() {
    let dir = std::env::temp_dir().join(format!("layerlab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let real = common::mnist_dir();
    for f in [
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::copy(real.join(f), dir.join(f)).unwrap();
    }
    let images = std::fs::read(real.join("train-images-idx3-ubyte")).unwrap();
    std::fs::write(dir.join("train-images-idx3-ubyte"), &images[..images.len() / 2]).unwrap();
    assert_usage_error(
        &["run", "--data", dir.to_str().unwrap()],
        "train-images-idx3-ubyte: file is truncated",
    );
    std::fs::write(dir.join("bad.json"), "{\"format\":\"something-else\"}").unwrap();
    assert_usage_error(
        &["show", dir.join("bad.json").to_str().unwrap()],
        "not a LayerLab result",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_writes_a_result_that_show_reads() {
    let out = std::env::temp_dir().join(format!("layerlab-cli-result-{}.json", std::process::id()));
    let mnist = common::mnist_dir();
    let (code, stdout, stderr) = layerlab(&[
        "run",
        "--data",
        mnist.to_str().unwrap(),
        "--depth",
        "2",
        "--width",
        "32",
        "--epochs",
        "1",
        "--checkpoints",
        "0,1",
        "--train-limit",
        "1000",
        "--test-limit",
        "300",
        "--joint",
        "layer1,layer2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("fullmodel"), "{stdout}");
    assert!(stdout.contains("layer3"), "{stdout}");
    let text = std::fs::read_to_string(&out).unwrap();
    let result = layerlab::engine::ResultFile::from_json(&text).unwrap();
    assert_eq!(result.units, vec!["layer1", "layer2", "layer3"]);
    assert_eq!(result.checkpoints, vec![0, 1]);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format"], "layerlab-result");
    assert_eq!(json["version"], 2);
    assert_eq!(json["config"]["batch-size"], 128);
    let (code, shown, _) = layerlab(&["show", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(shown.contains("layer1") && shown.contains("l-inf"), "{shown}");
    std::fs::remove_file(&out).unwrap();
}
