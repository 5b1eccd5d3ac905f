//! Times the CPU dense kernels (forward with bias and ReLU, input gradient, weight gradient) on
//! each layer of the FCN 3×256 at MNIST's shapes, the first layer on real MNIST images (whose
//! background takes the offset products) and again with the background hidden (the dense
//! products): where an FCN step's product time goes, layer by layer.
//!
//! `cargo run --release --example dense_layers [-- BATCH [ROUNDS [MNIST_DIR]]]` (defaults 128,
//! 50 and `data/mnist`, after `scripts/fetch-mnist.sh data/mnist`).

mod common;

use common::random_values;
use layerlab::engine::data::DatasetKind;
use layerlab::engine::kernels::dense;
use std::hint::black_box;
use std::time::Instant;

/// The first `batch` training images, normalised by the engine's own MNIST normalisation.
fn mnist_batch(dir: &str, batch: usize) -> Vec<f32> {
    let path = format!("{dir}/train-images-idx3-ubyte");
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run scripts/fetch-mnist.sh {dir})"));
    let normalization = DatasetKind::Mnist.normalization();
    bytes[16..16 + batch * 784]
        .iter()
        .map(|&b| normalization.normalised(0, b))
        .collect()
}

/// Mean milliseconds of forward, input gradient and weight gradient over `rounds` rounds.
fn time_layer(x: &[f32], batch: usize, inputs: usize, outputs: usize, rounds: usize) -> [f64; 3] {
    let weight = random_values(inputs * outputs, 2);
    let (bias, grad) = (random_values(outputs, 3), random_values(batch * outputs, 4));
    // The bias gradient, which the backward step has made before the weight gradient.
    let bias_grad = dense::column_sums(&grad, outputs);
    let mut seconds = [0.0f64; 3];
    for round in 0..rounds + 2 {
        let start = Instant::now();
        // As in training: the forward pass scans its input once, and the weight gradient takes
        // the answer.
        let background = dense::background(x);
        black_box(dense::forward(x, &weight, &bias, batch, true, background));
        let forward = start.elapsed();
        black_box(dense::input_grad(&weight, &grad, batch, outputs));
        let input = start.elapsed();
        black_box(dense::weight_grad(
            x,
            &grad,
            &bias_grad,
            (batch, outputs),
            background,
        ));
        let all = start.elapsed();
        if round >= 2 {
            seconds[0] += forward.as_secs_f64();
            seconds[1] += (input - forward).as_secs_f64();
            seconds[2] += (all - input).as_secs_f64();
        }
    }
    seconds.map(|s| s / rounds as f64 * 1e3)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let batch = args.first().and_then(|a| a.parse().ok()).unwrap_or(128);
    let rounds = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50usize).max(1);
    let dir = args.get(2).map_or("data/mnist", String::as_str);
    println!("batch {batch}, mean of {rounds} rounds after 2 warm-up rounds (ms)");
    println!("layer                       forward  input grad  weight grad");
    let images = mnist_batch(dir, batch);
    let background = images.iter().filter(|&&v| v == images[0]).count() as f64 / images.len() as f64;
    let ms = time_layer(&images, batch, 784, 256, rounds);
    let line =
        |name: &str, ms: [f64; 3]| println!("{name:<26} {:>8.3}  {:>10.3}  {:>11.3}", ms[0], ms[1], ms[2]);
    line(&format!("784 → 256 ({:.0}% background)", background * 100.0), ms);
    // The same images, the first value changed: no background is found, the products are dense.
    let mut hidden = images.clone();
    hidden[0] = 1.0;
    line("784 → 256 (dense)", time_layer(&hidden, batch, 784, 256, rounds));
    // Hidden layers: a ReLU's output, about half zeros.
    let relu = |v: f32| v.max(0.0);
    let activations: Vec<f32> = random_values(batch * 256, 5).into_iter().map(relu).collect();
    line("256 → 256", time_layer(&activations, batch, 256, 256, rounds));
    line("256 → 10", time_layer(&activations, batch, 256, 10, rounds));
}
