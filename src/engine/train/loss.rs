//! The training loss: on the device (WebGPU), or on the host for the CPU backend so that every
//! target computes the same bits.

use super::EngineError;
use crate::engine::kernels::cross_entropy;
use crate::engine::metrics;
use burn::tensor::{Device, Tensor, TensorData};

/// The batch's loss, two ways: what to call `backward` on, and its value (no autodiff graph).
pub(super) struct BatchLoss {
    pub objective: Tensor<1>,
    pub value: Tensor<1>,
}

/// The batch loss on the device (WebGPU), or on the host for the CPU backend.
///
/// On the CPU the logits are already in host memory, and the device path's `exp` and `ln` are the
/// platform's: glibc's natively and the Rust runtime's in wasm, which round 0.4% of all floats
/// differently. SGD amplifies a last-bit difference into different verdicts, so on the CPU the
/// softmax goes through `libm` (the same code on every target) and the device only sees
/// `sum(logits ⊙ g)`, whose gradient with respect to the logits is exactly `g`, the host's
/// `(softmax − one_hot) / n`.
pub(super) async fn batch_loss(
    logits: Tensor<2>, // [n, classes]
    labels: &[i64],
    device: &Device,
) -> Result<BatchLoss, EngineError> {
    if *device != Device::flex() {
        let loss = cross_entropy(logits, labels);
        let value = loss.clone().inner();
        return Ok(BatchLoss {
            objective: loss,
            value,
        });
    }
    let [n, classes] = logits.dims();
    let values = metrics::read_floats(logits.clone().inner().reshape([n * classes]))
        .await
        .map_err(EngineError::Device)?;
    let (loss, seed) = host_cross_entropy(&values, labels, classes);
    let seed = Tensor::<2>::from_data(TensorData::new(seed, [n, classes]), &logits.device()); // [n, classes]
    Ok(BatchLoss {
        objective: (logits * seed).sum(),
        value: Tensor::<1>::from_data(TensorData::new(vec![loss], [1]), device),
    })
}

/// Mean cross-entropy of row-major `logits: [n, classes]` and its gradient with respect to the
/// logits, in f64 with `libm` (log-sum-exp from each row's maximum). A label outside the classes
/// counts as an infinite loss rather than a panic.
fn host_cross_entropy(logits: &[f32], labels: &[i64], classes: usize) -> (f32, Vec<f32>) {
    let n = labels.len();
    let mut gradient = vec![0f32; logits.len()];
    let mut total = 0f64;
    for (row, (xs, &label)) in logits.chunks_exact(classes).zip(labels).enumerate() {
        let max = xs.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
        let sum: f64 = xs.iter().map(|&x| libm::exp(x as f64 - max)).sum();
        let log_sum = max + libm::log(sum);
        let target = usize::try_from(label).ok().filter(|&l| l < classes);
        total += target.map_or(f64::INFINITY, |l| log_sum - xs[l] as f64);
        for (j, &x) in xs.iter().enumerate() {
            let one_hot = if Some(j) == target { 1.0 } else { 0.0 };
            gradient[row * classes + j] = ((libm::exp(x as f64 - log_sum) - one_hot) / n as f64) as f32;
        }
    }
    ((total / n as f64) as f32, gradient)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host loss and its gradient agree with burn's `log_softmax` on the device.
    #[test]
    fn host_cross_entropy_matches_the_device_loss_and_gradient() {
        let device = Device::flex();
        let (n, classes) = (5, 4);
        let values: Vec<f32> = (0..n * classes)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.7)
            .collect();
        let labels = vec![0i64, 3, 1, 2, 3];
        let (loss, gradient) = host_cross_entropy(&values, &labels, classes);

        let logits = Tensor::<2>::from_data(TensorData::new(values, [n, classes]), &device)
            .autodiff()
            .require_grad();
        let device_loss = cross_entropy(logits.clone(), &labels);
        let grads = device_loss.backward();
        let device_gradient = logits
            .grad(&grads)
            .expect("gradient")
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let device_loss = device_loss.inner().into_data().try_to_vec::<f32>().unwrap()[0];
        assert!((loss - device_loss).abs() < 1e-5, "{loss} vs {device_loss}");
        for (a, b) in gradient.iter().zip(&device_gradient) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn host_cross_entropy_flags_bad_labels_and_non_finite_logits() {
        let (loss, _) = host_cross_entropy(&[1.0, 2.0], &[7], 2);
        assert_eq!(loss, f32::INFINITY);
        let (loss, _) = host_cross_entropy(&[f32::NAN, 2.0], &[0], 2);
        assert!(loss.is_nan());
    }
}
