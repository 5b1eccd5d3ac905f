//! The device's dense and convolution kernels against the CPU backend on small random shapes:
//! the output and the gradients of input, weight and bias, with and without the ReLU. The page's
//! end-to-end tests run it on WebGPU in Chromium (`kernel_check` in the WebGPU worker), where
//! the kernel is the device's own; on the CPU both sides are the same operations.

use super::{conv2d, conv2d_relu, dense, max_pool_2x2};
use crate::engine::metrics::read_floats;
use crate::engine::rng::Rng;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

/// One compared tensor.
#[derive(Clone, Debug, Serialize)]
pub struct KernelCheck {
    /// What was compared: `dense(relu) [rows×inputs·inputs×outputs] grad x`, say.
    pub what: String,
    /// The largest |device − CPU| over the tensor.
    pub max_abs_diff: f32,
    /// The tolerance: 1e-6 of the largest |CPU value| times the summed length, at least 1e-6.
    pub tolerance: f32,
    pub passed: bool,
}

/// `[rows, inputs, outputs]`: edges that are not multiples of the kernels' blocks or
/// workgroups, a single row and column, sizes in whole quads (the quad product, forward and
/// both gradients) and not, and the FCN's own layer sizes at a small batch.
const SHAPES: [[usize; 3]; 6] = [
    [1, 1, 1],
    [5, 7, 3],
    [33, 17, 10],
    [70, 40, 36],
    [9, 12, 20],
    [16, 784, 256],
];

/// The values on `device` and on the CPU for every shape, ReLU on and off.
pub async fn against_cpu(device: &Device) -> Result<Vec<KernelCheck>, String> {
    let mut rows = Vec::new();
    for (case, &[n, inputs, outputs]) in SHAPES.iter().enumerate() {
        for relu in [false, true] {
            let mut rng = Rng::from_seed(case as u64 * 2 + relu as u64);
            let mut draw =
                |len: usize| -> Vec<f32> { (0..len).map(|_| rng.uniform(-1.0, 1.0) as f32).collect() };
            let operands = [
                draw(n * inputs),
                draw(inputs * outputs),
                draw(outputs),
                draw(n * outputs),
            ];
            let on_device = values(device, [n, inputs, outputs], &operands, relu).await?;
            let on_cpu = values(&Device::flex(), [n, inputs, outputs], &operands, relu).await?;
            let label = format!(
                "dense{} [{n}×{inputs}·{inputs}×{outputs}]",
                if relu { "+relu" } else { "" }
            );
            compare(
                &mut rows,
                &label,
                &on_device,
                &on_cpu,
                [inputs, outputs, n, n],
                true,
            )?;
        }
    }
    for (case, &[n, c, h, w, o, k]) in CONV_SHAPES.iter().enumerate() {
        for (relu, biased) in [(false, false), (true, true), (false, true)] {
            let mut rng = Rng::from_seed(100 + case as u64 * 4 + relu as u64 * 2 + biased as u64);
            let mut draw =
                |len: usize| -> Vec<f32> { (0..len).map(|_| rng.uniform(-1.0, 1.0) as f32).collect() };
            let operands = [
                draw(n * c * h * w),
                draw(o * c * k * k),
                draw(o),
                draw(n * o * h * w),
            ];
            let dims = [n, c, h, w, o, k];
            let on_device = conv_values(device, dims, &operands, relu, biased).await?;
            let on_cpu = conv_values(&Device::flex(), dims, &operands, relu, biased).await?;
            let label = format!(
                "conv{}{} [{n}×{c}×{h}×{w}, {o}×{c}×{k}×{k}]",
                if biased { "+bias" } else { "" },
                if relu { "+relu" } else { "" }
            );
            let depth = [c * k * k, o * k * k, n * h * w, n * h * w];
            compare(&mut rows, &label, &on_device, &on_cpu, depth, biased)?;
        }
    }
    for (case, &[n, c, h, w]) in POOL_SHAPES.iter().enumerate() {
        let mut rng = Rng::from_seed(200 + case as u64);
        let mut draw = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.uniform(-1.0, 1.0) as f32).collect() };
        let operands = [draw(n * c * h * w), draw(n * c * (h / 2) * (w / 2))];
        let on_device = pool_values(device, [n, c, h, w], &operands).await?;
        let on_cpu = pool_values(&Device::flex(), [n, c, h, w], &operands).await?;
        let label = format!("max pool 2×2 [{n}×{c}×{h}×{w}]");
        compare(&mut rows, &label, &on_device, &on_cpu, [1, 1, 1, 1], false)?;
    }
    Ok(rows)
}

/// `[batch, channels, h, w]` of the pooling checks.
const POOL_SHAPES: [[usize; 4]; 3] = [[1, 1, 2, 2], [2, 3, 6, 8], [3, 5, 32, 32]];

/// The output and input gradient of `sum(max_pool_2x2(x) ⊙ upstream)` on `device`.
async fn pool_values(
    device: &Device,
    [n, c, h, w]: [usize; 4],
    [x, upstream]: &[Vec<f32>; 2],
) -> Result<[Vec<f32>; 3], String> {
    let device = device.clone().autodiff();
    let x = Tensor::<4>::from_data(TensorData::new(x.clone(), [n, c, h, w]), &device).require_grad();
    let upstream = Tensor::<4>::from_data(TensorData::new(upstream.clone(), [n, c, h / 2, w / 2]), &device);
    let y = max_pool_2x2(x.clone()); // [n, c, h/2, w/2]
    let grads = (y.clone() * upstream).sum().backward();
    let dx = x.grad(&grads).ok_or("the input gradient is missing")?;
    Ok([read_floats(y.inner()).await?, read_floats(dx).await?, Vec::new()])
}

/// `[batch, channels, h, w, outputs, k]`, stride 1, "same" padding: a single pixel, edges that
/// are not multiples of the kernel's blocks, a 1×1 kernel, and a weight gradient summed over
/// several splits of the batch; then shapes the quad kernels take (widths and output counts in
/// whole quads, or 2×2 images of a quad each): rows of one, two and three quads, 2×2 images,
/// a 5×5 kernel (theirs stop at 3×3), output channels that end inside a unit, the input
/// gradient in quads (channels in quads) and not, and a split batch.
const CONV_SHAPES: [[usize; 6]; 12] = [
    [1, 1, 1, 1, 1, 1],
    [2, 3, 5, 7, 4, 3],
    [2, 4, 6, 6, 5, 1],
    [3, 5, 8, 8, 6, 3],
    [12, 2, 24, 24, 3, 3],
    [2, 3, 6, 8, 8, 3],
    [3, 8, 4, 12, 12, 3],
    [2, 4, 4, 4, 4, 5],
    [2, 4, 8, 8, 8, 1],
    [40, 4, 8, 8, 8, 3],
    [3, 8, 2, 2, 12, 3],
    [2, 4, 2, 2, 4, 1],
];

/// Appends the rows of one case: output, then the gradients (the bias's when there is one).
fn compare(
    rows: &mut Vec<KernelCheck>,
    label: &str,
    on_device: &[Vec<f32>],
    on_cpu: &[Vec<f32>],
    depth: [usize; 4],
    biased: bool,
) -> Result<(), String> {
    let parts = ["output", "grad x", "grad weight", "grad bias"];
    let compared = on_device.len().min(if biased { 4 } else { 3 });
    for i in 0..compared {
        if on_device[i].is_empty() && on_cpu[i].is_empty() {
            continue;
        }
        let (got, want) = (&on_device[i], &on_cpu[i]);
        if got.len() != want.len() {
            return Err(format!(
                "{label} {}: {} values, the CPU gives {}",
                parts[i],
                got.len(),
                want.len()
            ));
        }
        let max_abs_diff = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let scale = want.iter().map(|v| v.abs()).fold(0.0, f32::max);
        let tolerance = (1e-6 * scale * depth[i] as f32).max(1e-6);
        rows.push(KernelCheck {
            what: format!("{label} {}", parts[i]),
            max_abs_diff,
            tolerance,
            // NaN fails.
            passed: max_abs_diff <= tolerance,
        });
    }
    Ok(())
}

/// The output and the gradients of `sum(conv(x, w, b) ⊙ upstream)` on `device` (the bias's
/// gradient empty without a bias).
async fn conv_values(
    device: &Device,
    [n, c, h, w, o, k]: [usize; 6],
    [x, weight, b, upstream]: &[Vec<f32>; 4],
    relu: bool,
    biased: bool,
) -> Result<[Vec<f32>; 4], String> {
    let device = device.clone().autodiff();
    let x = Tensor::<4>::from_data(TensorData::new(x.clone(), [n, c, h, w]), &device).require_grad();
    let weight =
        Tensor::<4>::from_data(TensorData::new(weight.clone(), [o, c, k, k]), &device).require_grad();
    let b = Tensor::<1>::from_data(TensorData::new(b.clone(), [o]), &device).require_grad();
    let upstream = Tensor::<4>::from_data(TensorData::new(upstream.clone(), [n, o, h, w]), &device);
    let bias = biased.then(|| b.clone());
    let y = if relu {
        conv2d_relu(x.clone(), weight.clone(), bias, 1, k / 2)
    } else {
        conv2d(x.clone(), weight.clone(), bias, 1, k / 2)
    }; // [n, o, h, w]
    let grads = (y.clone() * upstream).sum().backward();
    let dx = x.grad(&grads).ok_or("the input gradient is missing")?;
    let dw = weight.grad(&grads).ok_or("the weight gradient is missing")?;
    let db = match b.grad(&grads) {
        Some(db) => read_floats(db).await?,
        None => Vec::new(),
    };
    Ok([
        read_floats(y.inner()).await?,
        read_floats(dx).await?,
        read_floats(dw).await?,
        db,
    ])
}

/// The output and the gradients of `sum(dense(x, w, b) ⊙ upstream)` on `device`.
async fn values(
    device: &Device,
    [n, inputs, outputs]: [usize; 3],
    [x, w, b, upstream]: &[Vec<f32>; 4],
    relu: bool,
) -> Result<[Vec<f32>; 4], String> {
    let device = device.clone().autodiff();
    let x = Tensor::<2>::from_data(TensorData::new(x.clone(), [n, inputs]), &device).require_grad();
    let w = Tensor::<2>::from_data(TensorData::new(w.clone(), [inputs, outputs]), &device).require_grad();
    let b = Tensor::<1>::from_data(TensorData::new(b.clone(), [outputs]), &device).require_grad();
    let upstream = Tensor::<2>::from_data(TensorData::new(upstream.clone(), [n, outputs]), &device);
    let y = dense(x.clone(), w.clone(), b.clone(), relu); // [n, outputs]
    let grads = (y.clone() * upstream).sum().backward();
    let grad = |t: Option<Tensor<2>>| t.ok_or_else(|| "a gradient is missing".to_string());
    let dx = grad(x.grad(&grads))?;
    let dw = grad(w.grad(&grads))?;
    let db = b.grad(&grads).ok_or("the bias gradient is missing")?;
    Ok([
        read_floats(y.inner()).await?,
        read_floats(dx).await?,
        read_floats(dw).await?,
        read_floats(db).await?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the CPU both sides are the same operations: every row passes with no difference. (The
    /// WebGPU side runs in the page's end-to-end tests.)
    #[test]
    fn the_cpu_against_itself_is_exact() {
        let rows = pollster::block_on(against_cpu(&Device::flex())).unwrap();
        assert_eq!(
            rows.len(),
            SHAPES.len() * 2 * 4 + CONV_SHAPES.len() * (3 + 4 + 4) + POOL_SHAPES.len() * 2
        );
        assert!(rows.iter().all(|r| r.passed && r.max_abs_diff == 0.0), "{rows:?}");
    }
}
