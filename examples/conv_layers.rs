//! Times the CPU convolution kernels (forward, input gradient, weight gradient) on each layer
//! of VGG-11 ×0.25 at CIFAR-10's shapes, then its four 2×2 max poolings (forward, backward):
//! where a VGG step's convolution and pooling time goes, layer by layer, without the rest of
//! training around it (the first layer's input gradient is timed too, though training never
//! asks for it).
//!
//! `cargo run --release --example conv_layers [-- BATCH [ROUNDS]]` (defaults 128 and 20).

mod common;

use common::random_values;
use layerlab::engine::kernels::conv::{self, ConvShape};
use layerlab::engine::kernels::pool;
use std::hint::black_box;
use std::time::Instant;

/// `(channels, map side, outputs)` of VGG-11 ×0.25's eight 3×3 convolutions on 32×32 images.
const LAYERS: [(usize, usize, usize); 8] = [
    (3, 32, 16),
    (16, 16, 32),
    (32, 8, 64),
    (64, 8, 64),
    (64, 4, 128),
    (128, 4, 128),
    (128, 2, 128),
    (128, 2, 128),
];

/// `(channels, map side)` of VGG-11 ×0.25's four 2×2 max poolings (each halves the side).
const POOLS: [(usize, usize); 4] = [(16, 32), (32, 16), (64, 8), (128, 4)];

/// Values in [-0.5, 0.5) that vary along the slice (the kernels' speed does not depend on them).
fn values(len: usize, salt: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i as u64 * 7919 + salt as u64) % 1000) as f32 * 1e-3 - 0.5)
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let batch = args.next().and_then(Result::ok).unwrap_or(128);
    let rounds = args.next().and_then(Result::ok).unwrap_or(20).max(1);
    println!("batch {batch}, mean of {rounds} rounds after 2 warm-up rounds (ms)");
    println!("layer               forward  input grad  weight grad");
    let mut totals = [0.0f64; 3];
    for (channels, side, outputs) in LAYERS {
        let shape = ConvShape {
            batch,
            channels,
            height: side,
            width: side,
            outputs,
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        let (x, weight) = (values(shape.input_len(), 1), values(shape.weight_len(), 2));
        let (grad, bias) = (values(shape.output_len(), 3), values(outputs, 4));
        let mut seconds = [0.0f64; 3];
        for round in 0..rounds + 2 {
            let start = Instant::now();
            black_box(conv::forward(&shape, &x, &weight, Some(&bias), true));
            let forward = start.elapsed();
            black_box(conv::input_grad(&shape, &weight, &grad));
            let input = start.elapsed();
            black_box(conv::weight_grad(&shape, &x, &grad));
            let all = start.elapsed();
            if round >= 2 {
                seconds[0] += forward.as_secs_f64();
                seconds[1] += (input - forward).as_secs_f64();
                seconds[2] += (all - input).as_secs_f64();
            }
        }
        let ms = seconds.map(|s| s / rounds as f64 * 1e3);
        for (total, m) in totals.iter_mut().zip(ms) {
            *total += m;
        }
        println!(
            "{channels:>3}×{side:>2}×{side:<2} → {outputs:>3}  {:>8.3}  {:>10.3}  {:>11.3}",
            ms[0], ms[1], ms[2]
        );
    }
    println!(
        "all                {:>8.3}  {:>10.3}  {:>11.3}   (sum {:.2})",
        totals[0],
        totals[1],
        totals[2],
        totals.iter().sum::<f64>()
    );
    println!("pooling            forward    backward");
    let mut pooled = [0.0f64; 2];
    for (channels, side) in POOLS {
        let planes = batch * channels;
        let x = random_values(planes * side * side, 5);
        let grad = random_values(planes * side * side / 4, 6);
        let mut seconds = [0.0f64; 2];
        for round in 0..rounds + 2 {
            let start = Instant::now();
            black_box(pool::forward(&x, planes, side, side));
            let forward = start.elapsed();
            black_box(pool::backward(&x, &grad, planes, side, side));
            let all = start.elapsed();
            if round >= 2 {
                seconds[0] += forward.as_secs_f64();
                seconds[1] += (all - forward).as_secs_f64();
            }
        }
        let ms = seconds.map(|s| s / rounds as f64 * 1e3);
        pooled[0] += ms[0];
        pooled[1] += ms[1];
        println!(
            "{channels:>3}×{side:>2}×{side:<2}        {:>8.3}  {:>10.3}",
            ms[0], ms[1]
        );
    }
    println!("all                {:>8.3}  {:>10.3}", pooled[0], pooled[1]);
}
