//! The device's dense and convolution kernels against the CPU backend on small random shapes:
//! the output and the gradients of input, weight and bias, with and without the ReLU; then
//! pooling, the training loss with its gradient, the SGD step, and whole training steps through
//! the optimizer (WebGPU's flat update). The page's
//! end-to-end tests run it on WebGPU in Chromium (`kernel_check` in the WebGPU worker), where
//! the kernel is the device's own; on the CPU both sides are the same operations.

use super::{conv2d, conv2d_relu, cross_entropy, dense, max_pool_2x2};
use crate::engine::config::OptimizerKind;
use crate::engine::metrics::read_floats;
use crate::engine::models::{Architecture, Mode, Model};
use crate::engine::optim::{Optimizer, sgd_update};
use crate::engine::rng::Rng;
use crate::engine::train::profile::random_batch;
use crate::engine::units::initial_weights;
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
const SHAPES: [[usize; 3]; 7] = [
    [1, 1, 1],
    [5, 7, 3],
    [33, 17, 10],
    [70, 40, 36],
    [9, 12, 20],
    [16, 784, 256],
    // Over a million multiply-adds in odd sizes: the scalar kernel's big unit.
    [129, 785, 11],
];

/// The values on `device` and on the CPU for every shape, ReLU on and off.
pub async fn against_cpu(device: &Device) -> Result<Vec<KernelCheck>, String> {
    let mut rows = Vec::new();
    for unit in product_units(device) {
        #[cfg(feature = "webgpu")]
        let previous = unit.map(|(software, shared, _)| {
            let previous = (
                super::gpu::product_unit() == super::gpu::SOFTWARE_UNIT,
                super::gpu::subgroups_of_four(),
            );
            super::gpu::set_adapter(software);
            super::gpu::set_subgroups_of_four(shared);
            previous
        });
        let dense_rows = dense_checks(device, unit.map_or("", |(_, _, name)| name)).await;
        #[cfg(feature = "webgpu")]
        if let Some((software, shared)) = previous {
            super::gpu::set_adapter(software);
            super::gpu::set_subgroups_of_four(shared);
        }
        rows.extend(dense_rows?);
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
            let parts = &LAYER_PARTS[..if biased { 4 } else { 3 }];
            compare(&mut rows, &label, parts, &on_device, &on_cpu, &depth)?;
        }
    }
    for (case, &[n, c, h, w]) in POOL_SHAPES.iter().enumerate() {
        let mut rng = Rng::from_seed(200 + case as u64);
        let mut draw = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.uniform(-1.0, 1.0) as f32).collect() };
        let operands = [draw(n * c * h * w), draw(n * c * (h / 2) * (w / 2))];
        let on_device = pool_values(device, [n, c, h, w], &operands).await?;
        let on_cpu = pool_values(&Device::flex(), [n, c, h, w], &operands).await?;
        let label = format!("max pool 2×2 [{n}×{c}×{h}×{w}]");
        compare(&mut rows, &label, &LAYER_PARTS[..2], &on_device, &on_cpu, &[1, 1])?;
    }
    for (case, &[n, classes]) in LOSS_SHAPES.iter().enumerate() {
        let mut rng = Rng::from_seed(300 + case as u64);
        let logits: Vec<f32> = (0..n * classes).map(|_| rng.uniform(-4.0, 4.0) as f32).collect();
        let labels: Vec<i64> = (0..n).map(|_| rng.below(classes as u64) as i64).collect();
        let on_device = loss_values(device, [n, classes], &logits, &labels).await?;
        let on_cpu = loss_values(&Device::flex(), [n, classes], &logits, &labels).await?;
        let label = format!("cross-entropy [{n}×{classes}]");
        let parts = ["loss", "grad logits"];
        compare(
            &mut rows,
            &label,
            &parts,
            &on_device,
            &on_cpu,
            &[classes, classes],
        )?;
    }
    for (case, &(len, momentum, decay)) in SGD_CASES.iter().enumerate() {
        let mut rng = Rng::from_seed(400 + case as u64);
        let mut draw = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.uniform(-1.0, 1.0) as f32).collect() };
        let operands = [draw(len), draw(len), draw(len)];
        let on_device = sgd_values(device, &operands, momentum, decay).await?;
        let on_cpu = sgd_values(&Device::flex(), &operands, momentum, decay).await?;
        let label = format!("sgd [{len}] momentum {momentum} decay {decay}");
        let parts = ["value step 1", "buffer step 1", "value step 2", "buffer step 2"];
        compare(&mut rows, &label, &parts, &on_device, &on_cpu, &[4; 4])?;
    }
    for (case, &(cnn, momentum, decay)) in OPTIMIZER_CASES.iter().enumerate() {
        let on_device = optimizer_values(device, cnn, momentum, decay).await?;
        let on_cpu = optimizer_values(&Device::flex(), cnn, momentum, decay).await?;
        let model = optimizer_model(cnn);
        let label = format!(
            "optimizer {case}: 3 steps of {}, momentum {momentum} decay {decay}",
            if cnn { "a VGG-11" } else { "an FCN" }
        );
        let parts: Vec<&str> = model.tensors.iter().map(|t| t.name.as_str()).collect();
        let depth = vec![if cnn { 256 } else { 64 }; parts.len()];
        compare(&mut rows, &label, &parts, &on_device, &on_cpu, &depth)?;
    }
    Ok(rows)
}

/// `(a CNN, momentum, weight decay)` of the whole-optimizer checks.
const OPTIMIZER_CASES: [(bool, f64, f64); 3] = [(false, 0.9, 5e-3), (false, 0.0, 0.0), (true, 0.9, 5e-3)];

/// The optimizer checks' models: an FCN of two hidden layers of 13 on 15 inputs, 4 classes (six
/// tensors, none a whole number of the flat buffer's alignment); a VGG-11 at 1/16 width on
/// CIFAR's shapes (its convolutions' gradients, a weight's summed over batch splits or not).
fn optimizer_model(cnn: bool) -> Model {
    if cnn {
        let vgg = Architecture::Vgg {
            variant: crate::engine::models::vgg::Variant::Vgg11,
            width_mult: 0.0625,
            batch_norm: false,
        };
        Model::new(vgg, [3, 32, 32], 10)
    } else {
        Model::new(Architecture::Fcn { depth: 2, width: 13 }, [1, 3, 5], 4)
    }
}

/// Every tensor of [`optimizer_model`] after three training steps on `device` through
/// [`Optimizer`] (on WebGPU its flat update, the gradients written where it reads them), from
/// the same initial weights and batch.
async fn optimizer_values(
    device: &Device,
    cnn: bool,
    momentum: f64,
    decay: f64,
) -> Result<Vec<Vec<f32>>, String> {
    let model = optimizer_model(cnn);
    let mut params: Vec<Tensor<1>> = initial_weights(&model, 7, device)
        .into_iter()
        .map(|t| t.autodiff().require_grad())
        .collect();
    let mut optimizer = Optimizer::new(OptimizerKind::Sgd, momentum, decay, params.len());
    let (batch, features): (usize, usize) = (if cnn { 9 } else { 6 }, model.input_shape.iter().product());
    let (pixels, labels) = random_batch(&model, batch, 500);
    let x = Tensor::<2>::from_data(TensorData::new(pixels, [batch, features]), device); // [batch, c·h·w]
    for _ in 0..3 {
        let logits = model.forward(&params, x.clone(), Mode::Train).logits; // [batch, classes]
        let mut grads = cross_entropy(logits, &labels).backward();
        optimizer.step(&mut params, &model.tensors, &mut grads, 0.05);
    }
    let mut values = Vec::new();
    for param in params {
        values.push(read_floats(param.inner()).await?);
    }
    Ok(values)
}

/// `[rows, classes]` of the loss checks: one row and class, edges off the kernel's 64 units,
/// and the FCN's batch of ten classes.
const LOSS_SHAPES: [[usize; 2]; 4] = [[1, 1], [5, 3], [70, 37], [128, 10]];

/// `(length, momentum, weight decay)` of the optimizer checks: lengths in whole quads and
/// not, with momentum and decay, with neither.
const SGD_CASES: [(usize, f64, f64); 4] = [
    (10, 0.9, 5e-4),
    (4100, 0.9, 5e-4),
    (4099, 0.0, 0.0),
    (1, 0.9, 0.0),
];

/// The loss and its gradient with respect to the logits on `device`.
async fn loss_values(
    device: &Device,
    [n, classes]: [usize; 2],
    logits: &[f32],
    labels: &[i64],
) -> Result<[Vec<f32>; 2], String> {
    let device = device.clone().autodiff();
    let logits =
        Tensor::<2>::from_data(TensorData::new(logits.to_vec(), [n, classes]), &device).require_grad();
    let loss = cross_entropy(logits.clone(), labels); // [1]
    let grads = loss.backward();
    let grad = logits.grad(&grads).ok_or("the logits' gradient is missing")?;
    Ok([read_floats(loss.inner()).await?, read_floats(grad).await?])
}

/// Two SGD steps on `device` from `value` with the gradients `first` then `second`: the
/// value and the momentum buffer after each (the buffer empty without momentum).
async fn sgd_values(
    device: &Device,
    [value, first, second]: &[Vec<f32>; 3],
    momentum: f64,
    decay: f64,
) -> Result<[Vec<f32>; 4], String> {
    let tensor = |v: &Vec<f32>| Tensor::<1>::from_data(TensorData::new(v.clone(), [v.len()]), device);
    let lr = 0.05;
    let (value, buffer) = sgd_update(tensor(value), tensor(first), None, momentum, decay, lr);
    let (value1, buffer1) = (value.clone(), buffer.clone());
    let (value2, buffer2) = sgd_update(value, tensor(second), buffer, momentum, decay, lr);
    let read = async |t: Option<Tensor<1>>| match t {
        Some(t) => read_floats(t).await,
        None => Ok(Vec::new()),
    };
    Ok([
        read_floats(value1).await?,
        read(buffer1).await?,
        read_floats(value2).await?,
        read(buffer2).await?,
    ])
}

/// The product kernels to check the dense layers with: on WebGPU both units (whichever the
/// adapter is, so that a software adapter checks the hardware GPUs' unit too) and, where the
/// device has subgroups of four, the kernel sharing reads across them; each as the flags
/// `set_adapter` and `set_subgroups_of_four` take and a label; elsewhere the one kernel there is.
fn product_units(device: &Device) -> Vec<Option<(bool, bool, &'static str)>> {
    #[cfg(feature = "webgpu")]
    if !super::on_cpu(device) {
        let mut units = vec![
            Some((true, false, " (software unit)")),
            Some((false, false, " (hardware unit)")),
        ];
        if super::gpu::subgroups_of_four() {
            units.push(Some((true, true, " (subgroups of four)")));
        }
        return units;
    }
    let _ = device;
    vec![None]
}

/// The dense layer's rows for every shape, ReLU on and off; `unit` ends each label.
async fn dense_checks(device: &Device, unit: &str) -> Result<Vec<KernelCheck>, String> {
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
                "dense{} [{n}×{inputs}·{inputs}×{outputs}]{unit}",
                if relu { "+relu" } else { "" }
            );
            let depth = [inputs, outputs, n, n];
            compare(&mut rows, &label, &LAYER_PARTS, &on_device, &on_cpu, &depth)?;
        }
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

/// The parts of a layer's case: its output, then the gradients.
const LAYER_PARTS: [&str; 4] = ["output", "grad x", "grad weight", "grad bias"];

/// Appends the rows of one case, one a part (an empty part on both sides is skipped); each
/// part's tolerance grows with its summed length, `depth`.
fn compare(
    rows: &mut Vec<KernelCheck>,
    label: &str,
    parts: &[&str],
    on_device: &[Vec<f32>],
    on_cpu: &[Vec<f32>],
    depth: &[usize],
) -> Result<(), String> {
    for i in 0..parts.len().min(on_device.len()) {
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
            SHAPES.len() * 2 * 4
                + CONV_SHAPES.len() * (3 + 4 + 4)
                + POOL_SHAPES.len() * 2
                + LOSS_SHAPES.len() * 2
                + SGD_CASES.len() * 4
                - 2 // no momentum buffer without momentum
                + 2 * optimizer_model(false).tensors.len()
                + optimizer_model(true).tensors.len()
        );
        assert!(rows.iter().all(|r| r.passed && r.max_abs_diff == 0.0), "{rows:?}");
    }
}
