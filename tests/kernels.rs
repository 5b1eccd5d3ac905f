//! The CPU backend's own kernels (src/engine/kernels) against burn's operations on the same
//! backend: convolution forward and all three gradients, 2×2 max pooling with its gradient, and
//! dense layers with their bias and ReLU, on random shapes (kernels 1 and 3, strides 1 and 2,
//! batches that need more than one chunk).

use burn::tensor::{Device, Tensor, TensorData};
use layerlab::engine::kernels;
use layerlab::engine::rng::Rng;

/// Uniform values in [-1, 1) from a generator of the test's own: burn's `Device::seed` sets one
/// process-wide generator, which the tests, running on parallel threads, would reseed under
/// each other (CI once drew a different upstream gradient for the two sides of a comparison).
fn random(dims: [usize; 4], seed: u64) -> Tensor<4> {
    let mut rng = Rng::from_seed(seed);
    let values: Vec<f32> = (0..dims.iter().product::<usize>())
        .map(|_| rng.uniform(-1.0, 1.0) as f32)
        .collect();
    Tensor::from_data(TensorData::new(values, dims), &Device::flex())
}

fn close(ours: Tensor<4>, theirs: Tensor<4>, what: &str) {
    let (a, b) = (
        ours.into_data().try_to_vec::<f32>().unwrap(),
        theirs.into_data().try_to_vec::<f32>().unwrap(),
    );
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * scale,
            "{what}[{i}]: {x} against {y} (scale {scale})"
        );
    }
}

/// `(batch, channels, h, w, outputs, kernel, stride, bias)`
type Case = (usize, usize, usize, usize, usize, usize, usize, bool);

const CASES: &[Case] = &[
    (2, 3, 8, 8, 4, 3, 1, true),
    (3, 5, 7, 6, 2, 3, 1, false),
    (2, 4, 9, 9, 6, 3, 2, false),
    (1, 3, 5, 5, 3, 1, 1, true),
    (2, 6, 8, 8, 5, 1, 2, false),
    (4, 2, 2, 2, 3, 3, 1, true),
    (1, 2, 1, 1, 3, 3, 1, true),
    // A VGG's last stage: 2×2 maps that every window covers, one product over the batch.
    (40, 16, 2, 2, 8, 3, 1, true),
    // 40 images of 16 × 32 × 32 at kernel 3: two chunks.
    (40, 16, 32, 32, 8, 3, 1, true),
    // A first layer, 40 images of 3 × 32 × 32: chunks of 5 images, 5,120 columns each, whose
    // weight gradient is summed as dot products in lanes.
    (40, 3, 32, 32, 16, 3, 1, true),
    // Winograd's F(2×2, 3×3): 16+ channels in and out on even maps, several chunks; oblong.
    (24, 16, 8, 8, 32, 3, 1, true),
    (9, 20, 4, 6, 16, 3, 1, false),
];

#[test]
fn convolution_matches_burn_forward_and_backward() {
    // Each case plain and with the ReLU (which the CPU kernel applies as it stores the output
    // when there is a bias, and whose mask its backward step applies).
    let cases = CASES.iter().flat_map(|case| [(case, false), (case, true)]);
    for (case, (&(batch, channels, h, w, outputs, k, stride, with_bias), relu)) in cases.enumerate() {
        let seed = case as u64;
        let x = random([batch, channels, h, w], seed);
        let weight = random([outputs, channels, k, k], seed + 100);
        let bias = with_bias.then(|| random([1, 1, 1, outputs], seed + 200).reshape([outputs]));
        let device = Device::flex().autodiff();
        let track = |t: &Tensor<4>| Tensor::<4>::from_data(t.to_data(), &device).require_grad();
        let grad_out_seed = seed + 300;

        let mut results = Vec::new();
        for ours in [true, false] {
            let (xa, wa) = (track(&x), track(&weight));
            let ba = bias
                .as_ref()
                .map(|b| Tensor::<1>::from_data(b.to_data(), &device).require_grad());
            let out = match (ours, relu) {
                (true, false) => kernels::conv2d(xa.clone(), wa.clone(), ba.clone(), stride, k / 2),
                (true, true) => kernels::conv2d_relu(xa.clone(), wa.clone(), ba.clone(), stride, k / 2),
                (false, _) => {
                    let options = burn::tensor::ops::ConvOptions::new([stride; 2], [k / 2; 2], [1, 1], 1);
                    let out = burn::tensor::module::conv2d(xa.clone(), wa.clone(), ba.clone(), options);
                    if relu {
                        burn::tensor::activation::relu(out)
                    } else {
                        out
                    }
                }
            };
            let dims = out.dims();
            let upstream = Tensor::<4>::from_data(random(dims, grad_out_seed).to_data(), &device);
            let grads = (out.clone() * upstream).sum().backward();
            let dx = xa.grad(&grads).unwrap();
            let dw = wa.grad(&grads).unwrap();
            let db = ba.map(|b| b.grad(&grads).unwrap().reshape([1, 1, 1, outputs]));
            results.push((out.inner(), dx, dw, db));
        }
        let (theirs, ours) = (results.pop().unwrap(), results.pop().unwrap());
        let what = |part: &str| format!("case {case} (relu {relu}) {part}");
        close(ours.0, theirs.0, &what("output"));
        close(ours.1, theirs.1, &what("input grad"));
        close(ours.2, theirs.2, &what("weight grad"));
        if let (Some(a), Some(b)) = (ours.3, theirs.3) {
            close(a, b, &what("bias grad"));
        }
    }
}

#[test]
fn max_pooling_matches_burn_and_routes_ties_to_one_input() {
    let device = Device::flex().autodiff();
    for (case, dims) in [[2, 3, 4, 6], [1, 1, 2, 2], [3, 2, 8, 8]].into_iter().enumerate() {
        let x = random(dims, 40 + case as u64);
        let mut results = Vec::new();
        for ours in [true, false] {
            let xa = Tensor::<4>::from_data(x.to_data(), &device).require_grad();
            let out = if ours {
                kernels::max_pool_2x2(xa.clone())
            } else {
                // The reshape-and-maxima form the models used before the kernel.
                let [b, c, h, w] = dims;
                xa.clone()
                    .reshape([b, c, h / 2, 2, w / 2, 2])
                    .max_dim(5)
                    .max_dim(3)
                    .reshape([b, c, h / 2, w / 2])
            };
            let upstream = Tensor::<4>::from_data(random(out.dims(), 50).to_data(), &device);
            let grads = (out.clone() * upstream).sum().backward();
            results.push((out.inner(), xa.grad(&grads).unwrap()));
        }
        let (theirs, ours) = (results.pop().unwrap(), results.pop().unwrap());
        close(ours.0, theirs.0, &format!("pool case {case} output"));
        close(ours.1, theirs.1, &format!("pool case {case} grad"));
    }

    // A window of equal values (ReLU's zeros) sends its whole gradient to the first one.
    let zeros = Tensor::<4>::zeros([1, 1, 2, 2], &device).require_grad();
    let grads = kernels::max_pool_2x2(zeros.clone()).sum().backward();
    let g = zeros
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(g, [1.0, 0.0, 0.0, 0.0]);

    // A NaN wins its window, so a diverging run's NaN is not pooled away.
    let x = Tensor::<4>::from_floats([[[[1.0, f32::NAN], [3.0, 2.0]]]], &Device::flex());
    let pooled = kernels::max_pool_2x2(x).into_data().try_to_vec::<f32>().unwrap();
    assert!(pooled[0].is_nan());
}

/// The dense layer (`kernels::dense`: product, bias and ReLU in one kernel on the CPU backend,
/// its own backward pass) against burn's matmul, broadcast add and ReLU: the output and all
/// three gradients, with and without the ReLU, on shapes from one row to the FCN's, including
/// ones past the products' threading threshold. They are the same operations in the same
/// order, so the values must be identical, not merely close.
#[test]
fn dense_matches_burn_forward_and_backward_bit_for_bit() {
    let device = Device::flex().autodiff();
    let cases = [
        (1, 3, 2, true),
        (5, 17, 9, false),
        (7, 33, 40, true),
        (128, 784, 256, true),
        (64, 256, 10, false),
    ];
    for (case, &(batch, inputs, outputs, relu)) in cases.iter().enumerate() {
        let seed = 500 + case as u64;
        let x = random([1, 1, batch, inputs], seed).reshape([batch, inputs]);
        let weight = random([1, 1, inputs, outputs], seed + 1).reshape([inputs, outputs]);
        let bias = random([1, 1, 1, outputs], seed + 2).reshape([outputs]);
        let upstream = random([1, 1, batch, outputs], seed + 3).reshape([batch, outputs]);
        let mut results = Vec::new();
        for ours in [true, false] {
            let xa = Tensor::<2>::from_data(x.to_data(), &device).require_grad();
            let wa = Tensor::<2>::from_data(weight.to_data(), &device).require_grad();
            let ba = Tensor::<1>::from_data(bias.to_data(), &device).require_grad();
            let out = if ours {
                kernels::dense(xa.clone(), wa.clone(), ba.clone(), relu)
            } else {
                let linear = xa.clone().matmul(wa.clone()) + ba.clone().reshape([1, outputs]);
                if relu {
                    burn::tensor::activation::relu(linear)
                } else {
                    linear
                }
            };
            let up = Tensor::<2>::from_data(upstream.to_data(), &device);
            let grads = (out.clone() * up).sum().backward();
            let bits = |t: burn::tensor::TensorData| -> Vec<u32> {
                t.try_to_vec::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            results.push([
                bits(out.inner().into_data()),
                bits(xa.grad(&grads).unwrap().into_data()),
                bits(wa.grad(&grads).unwrap().into_data()),
                bits(ba.grad(&grads).unwrap().into_data()),
            ]);
        }
        for (part, name) in ["output", "input grad", "weight grad", "bias grad"]
            .iter()
            .enumerate()
        {
            assert_eq!(results[0][part], results[1][part], "case {case}: {name}");
        }
    }
}

/// The SGD step on the CPU backend (in place over the value's and buffer's storage) gives the
/// bits of burn's tensor expressions for PyTorch's rule, with and without momentum and weight
/// decay, on the first step and after it; and it never writes through to another tensor that
/// shares the storage (a checkpoint's snapshot of the weights keeps its values).
#[test]
fn sgd_step_matches_burn_bit_for_bit_and_leaves_shared_values_alone() {
    use layerlab::engine::optim::sgd_update;
    let bits = |t: &Tensor<1>| -> Vec<u32> {
        t.to_data()
            .try_to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    let lr = 0.05;
    for (case, &(len, momentum, decay)) in [
        (7, 0.9, 0.0),
        (1000, 0.9, 5e-4),
        (33, 0.0, 5e-4),
        (256, 0.0, 0.0),
        // An FCN's first weight (split over the threads, with and without decay).
        (200_704, 0.9, 5e-4),
        (65_536, 0.9, 0.0),
    ]
    .iter()
    .enumerate()
    {
        let seed = 900 + 10 * case as u64;
        let vector = |seed| random([1, 1, 1, len], seed).reshape([len]);
        let (value, grads) = (vector(seed), [vector(seed + 1), vector(seed + 2)]);
        // burn's expressions: g + λθ; b = μb + g (g on the first step); θ − lr·b.
        let mut expected = (value.clone(), None::<Tensor<1>>);
        for grad in &grads {
            let g = if decay > 0.0 {
                grad.clone() + expected.0.clone().mul_scalar(decay)
            } else {
                grad.clone()
            };
            let update = match expected.1.take() {
                Some(b) if momentum > 0.0 => b.mul_scalar(momentum) + g,
                _ => g,
            };
            expected = (
                expected.0.clone() - update.clone().mul_scalar(lr),
                (momentum > 0.0).then_some(update),
            );
        }
        let mut ours = (value.clone(), None::<Tensor<1>>);
        for grad in &grads {
            // Snapshots sharing the storage the step writes.
            let (value_before, buffer_before) = (ours.0.clone(), ours.1.clone());
            let (value_bits, buffer_bits) = (bits(&value_before), buffer_before.as_ref().map(&bits));
            ours = sgd_update(ours.0, grad.clone(), ours.1, momentum, decay, lr);
            assert_eq!(
                bits(&value_before),
                value_bits,
                "case {case}: a shared value was written"
            );
            assert_eq!(
                buffer_before.as_ref().map(&bits),
                buffer_bits,
                "case {case}: a shared buffer was written"
            );
        }
        assert_eq!(bits(&ours.0), bits(&expected.0), "case {case}: value");
        assert_eq!(
            ours.1.as_ref().map(&bits),
            expected.1.as_ref().map(&bits),
            "case {case}: buffer"
        );
    }
}
