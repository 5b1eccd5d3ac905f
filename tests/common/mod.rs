//! Where the integration tests find real data, and a host that ignores what a run reports.
#![allow(dead_code)]

use std::path::PathBuf;

/// MNIST's IDX files: `$LAYERLAB_MNIST_DIR`, else `data/mnist` (filled by
/// `scripts/fetch-mnist.sh`, which the test command runs first).
pub fn mnist_dir() -> PathBuf {
    let dir = std::env::var_os("LAYERLAB_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist"));
    assert!(
        dir.join("train-images-idx3-ubyte").is_file(),
        "MNIST is missing in {}: run scripts/fetch-mnist.sh",
        dir.display()
    );
    dir
}

/// The JPEG-derived CIFAR-10 subset: `$LAYERLAB_CIFAR_DIR`, else `../shared/data/cifar10-jpeg`.
pub fn cifar_dir() -> PathBuf {
    let dir = std::env::var_os("LAYERLAB_CIFAR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cifar10-jpeg"));
    assert!(
        dir.join("test_batch.bin.gz").is_file(),
        "the CIFAR-10 subset is missing in {} (set LAYERLAB_CIFAR_DIR)",
        dir.display()
    );
    dir
}

/// A run's host that shows nothing, never stops and keeps nothing.
pub struct Quiet;

impl layerlab::engine::Driver for Quiet {
    fn event(&mut self, _: layerlab::engine::Event) {}
    fn stop_requested(&mut self) -> bool {
        false
    }
    async fn pause(&mut self) {}
}
