//! The CPU backend's own kernels for what training spends its time in: convolution (forward,
//! and the gradients of input, weight and bias), 2×2 max pooling and dense layers with their
//! bias and ReLU, registered with burn as a
//! backend extension ([`CpuKernels`]) for burn-flex and for autodiff over it, with their backward
//! passes.
//!
//! burn-flex's convolution transposes its input to NHWC, builds im2col tiles per image and per
//! 512 pixels (a product per tile: a 2×2 feature map made a product of four columns), and takes
//! the weight gradient as a convolution whose kernel is the whole feature map; its max pooling's
//! gradient is a scatter. Together they were over half of a VGG step (BENCHMARKS.md, issue 11).
//! Here each is one pass over plain slices and the products are batch-wide, through the same
//! deterministic `gemm` as the rest of the CPU path, so the page and the command line still
//! agree bit for bit. WebGPU has kernels of its own ([`gpu`]); other backends keep burn's
//! operations.

mod autodiff;
pub mod check;
pub mod conv;
pub mod dense;
pub(crate) mod folded_sgd;
#[cfg(feature = "webgpu")]
pub mod gpu;
pub mod pool;

use burn::backend::TensorMetadata;
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::ops::{ActivationOps, ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, IntDType, backend_extension};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bytes, DType, Device, Int, Shape, Tensor, TensorData};
use conv::ConvShape;

/// Operations the CPU backend runs with its own kernels. The default bodies are burn's own
/// operations (what every other backend would run).
#[backend_extension(Flex, Autodiff)]
pub trait CpuKernels: Backend {
    /// `x: [batch, channels, h, w]`, `weight: [outputs, channels, k, k]`, `bias: [outputs]`;
    /// through the ReLU when `relu`.
    fn conv2d_biased(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        relu: bool,
    ) -> FloatTensor<Self> {
        let out = Self::conv2d(x, weight, Some(bias), options(stride, padding));
        if relu { Self::relu(out) } else { out }
    }

    fn conv2d_plain(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options(stride, padding))
    }

    /// The input gradient `[batch, channels, h, w]` (`x` gives only the shape).
    fn conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, grad, options(stride, padding))
    }

    fn conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, grad, options(stride, padding))
    }

    /// `bias` gives only the shape.
    fn conv2d_bias_grad(
        x: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::conv2d_bias_backward(x, bias, grad)
    }

    /// `relu?(x · weight + bias)`: `x: [batch, inputs]`, `weight: [inputs, outputs]`,
    /// `bias: [outputs]`.
    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        Self::dense_with_background(x, weight, bias, relu).0
    }

    /// [`Self::dense`], and the background value the product found in `x` (`dense::background`;
    /// none where the kernels do not look), which the weight gradient of the same input takes
    /// rather than scanning it again.
    fn dense_with_background(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> (FloatTensor<Self>, Option<f32>) {
        (generic_dense::<Self>(x, weight, bias, relu), None)
    }

    /// The gradient before a ReLU whose output was `out`.
    fn dense_relu_mask(out: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu_backward(out, grad)
    }

    /// `grad [batch, outputs] × weightᵀ`.
    fn dense_input_grad(weight: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(grad, Self::float_transpose(weight))
    }

    /// `xᵀ × grad`, the gradient of `weight` (`[inputs, outputs]`); `bias_grad` is `grad`'s rows
    /// summed ([`Self::dense_bias_grad`]) and `background` what [`Self::dense_with_background`]
    /// found in `x`, for kernels that use them. Where an SGD step of `weight` is folded into the
    /// backward pass ([`folded_sgd`], burn-flex), that step taken instead: `weight`'s new value.
    fn dense_weight_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _bias_grad: FloatTensor<Self>,
        _background: Option<f32>,
    ) -> FloatTensor<Self> {
        Self::float_matmul(Self::float_transpose(x), grad)
    }

    /// `grad`'s rows summed: `[outputs]`.
    fn dense_bias_grad(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let outputs = grad.shape().dims::<2>()[1];
        Self::float_reshape(Self::float_sum_dim(grad, 0), Shape::from(vec![outputs]))
    }

    /// `[batch, channels, h, w]` → `[batch, channels, h/2, w/2]`, h and w even.
    fn max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false)
    }

    fn max_pool_2x2_grad(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        generic_pool_grad::<Self>(x, grad)
    }

    /// One SGD step of one tensor (`optim::sgd_update`'s rule): the new value and the new
    /// momentum buffer `b = momentum·b + g` (`g` itself on the `first` step, when `buffer` is
    /// not read), `g` the gradient plus `decay·value`.
    #[allow(clippy::too_many_arguments)]
    fn sgd_step(
        value: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        buffer: FloatTensor<Self>,
        momentum: f32,
        decay: f32,
        lr: f32,
        first: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        generic_sgd::<Self>(value, grad, buffer, [momentum, decay, lr], first)
    }
}

/// burn's own operations for one SGD step ([`sgd_step`] where a device has no kernel for it),
/// in the order and roundings the one-pass kernels follow.
fn generic_sgd<B: Backend>(
    value: FloatTensor<B>,
    grad: FloatTensor<B>,
    buffer: FloatTensor<B>,
    [momentum, decay, lr]: [f32; 3],
    first: bool,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let grad = if decay > 0.0 {
        B::float_add(grad, B::float_mul_scalar(value.clone(), decay.into()))
    } else {
        grad
    };
    let update = if first {
        grad
    } else {
        B::float_add(B::float_mul_scalar(buffer, momentum.into()), grad)
    };
    (
        B::float_sub(value, B::float_mul_scalar(update.clone(), lr.into())),
        update,
    )
}

/// PyTorch's SGD rule with momentum over lanes `(θ, g, b, new θ)`: `b ← μ·b + (g + λ·θ)` (no
/// decay term when `λ` is 0), `new θ = θ − lr·b`, each operation rounded on its own. The one
/// definition the SGD pass and the steps folded into the weight gradients share, so that a run
/// is the same bits either way; the decay test outside the loop, so that each loop is plain
/// lanes.
#[inline(always)]
pub(crate) fn sgd_lanes<'a>(
    lanes: impl Iterator<Item = (f32, f32, &'a mut f32, &'a mut f32)>,
    [momentum, decay, lr]: [f32; 3],
) {
    if decay > 0.0 {
        for (t, g, b, new) in lanes {
            *b = *b * momentum + (g + t * decay);
            *new = t - *b * lr;
        }
    } else {
        for (t, g, b, new) in lanes {
            *b = *b * momentum + g;
            *new = t - *b * lr;
        }
    }
}

/// burn's own dense layer: a product, the bias added by broadcast, then the ReLU.
fn generic_dense<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    relu: bool,
) -> FloatTensor<B> {
    let outputs = bias.shape().num_elements();
    let out = B::float_add(
        B::float_matmul(x, weight),
        B::float_reshape(bias, Shape::from(vec![1, outputs])),
    );
    if relu { B::relu(out) } else { out }
}

/// burn's own 2×2 max-pooling gradient.
fn generic_pool_grad<B: Backend>(x: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    let (window, padding, dilation) = ([2, 2], [0, 0], [1, 1]);
    let pooled =
        B::max_pool2d_with_indices(x.clone(), window, window, padding, dilation, false, IntDType::I64);
    B::max_pool2d_with_indices_backward(x, window, window, padding, dilation, false, grad, pooled.indices)
        .x_grad
}

fn options(stride: usize, padding: usize) -> ConvOptions<2> {
    ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1)
}

/// A convolution on any backend: the CPU backend's kernels there, burn's elsewhere.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    if !on_cpu(&x.device()) {
        return gpu_conv2d(x, weight, bias, stride, padding, false);
    }
    let out = match bias {
        Some(bias) => <Dispatch as CpuKernels>::conv2d_biased(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            stride,
            padding,
            false,
        ),
        None => {
            <Dispatch as CpuKernels>::conv2d_plain(x.into_dispatch(), weight.into_dispatch(), stride, padding)
        }
    };
    Tensor::from_dispatch(out)
}

/// [`conv2d`] then the ReLU: one kernel on WebGPU (a stride-1 "same" convolution with a
/// bias), burn's ReLU after the convolution elsewhere.
pub fn conv2d_relu(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    if !on_cpu(&x.device()) {
        return gpu_conv2d(x, weight, bias, stride, padding, true);
    }
    match bias {
        // The CPU kernel applies the ReLU as it stores the output.
        Some(bias) => Tensor::from_dispatch(<Dispatch as CpuKernels>::conv2d_biased(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            stride,
            padding,
            true,
        )),
        None => relu_if(conv2d(x, weight, None, stride, padding), true),
    }
}

/// A convolution off the CPU: the WebGPU kernels for stride-1 "same" convolutions (every VGG
/// convolution and ResNet's 3×3 and 1×1 ones at stride 1), burn's otherwise.
fn gpu_conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
    relu: bool,
) -> Tensor<4> {
    #[cfg(feature = "webgpu")]
    {
        let [_, _, k, k2] = weight.dims();
        if stride == 1 && k == k2 && k % 2 == 1 && padding == k / 2 && gpu::enabled(gpu::Family::Conv) {
            let out = match bias {
                Some(bias) => <Dispatch as gpu::GpuKernels>::conv_same(
                    x.into_dispatch(),
                    weight.into_dispatch(),
                    bias.into_dispatch(),
                    relu,
                ),
                None => {
                    let out = <Dispatch as gpu::GpuKernels>::conv_same_plain(
                        x.into_dispatch(),
                        weight.into_dispatch(),
                    );
                    return relu_if(Tensor::from_dispatch(out), relu);
                }
            };
            return Tensor::from_dispatch(out);
        }
    }
    relu_if(
        burn::tensor::module::conv2d(x, weight, bias, options(stride, padding)),
        relu,
    )
}

/// `relu(t)` when `relu`, else `t`.
fn relu_if<const D: usize>(t: Tensor<D>, relu: bool) -> Tensor<D> {
    if relu {
        burn::tensor::activation::relu(t)
    } else {
        t
    }
}

/// `x · weight + bias`, then the ReLU when `relu`, for `x: [batch, inputs]`,
/// `weight: [inputs, outputs]`, `bias: [outputs]`: one fused kernel on WebGPU, the CPU
/// backend's kernels there, burn's operations elsewhere.
pub fn dense(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>, relu: bool) -> Tensor<2> {
    #[cfg(feature = "webgpu")]
    if !on_cpu(&x.device()) && gpu::enabled(gpu::Family::Dense) {
        return Tensor::from_dispatch(<Dispatch as gpu::GpuKernels>::dense(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            relu,
        ));
    }
    if on_cpu(&x.device()) {
        return Tensor::from_dispatch(<Dispatch as CpuKernels>::dense(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            relu,
        ));
    }
    let outputs = bias.dims()[0];
    relu_if(x.matmul(weight) + bias.reshape([1, outputs]), relu) // [batch, outputs]
}

/// The mean cross-entropy `[1]` of `logits: [n, classes]` against `labels` (one a row), on
/// the autodiff graph: on WebGPU one kernel that also writes the gradient its backward step
/// hands on, elsewhere burn's log-softmax, gather and mean.
pub fn cross_entropy(logits: Tensor<2>, labels: &[i64]) -> Tensor<1> {
    let device = logits.device();
    let n = labels.len();
    #[cfg(feature = "webgpu")]
    if !on_cpu(&device) && gpu::enabled(gpu::Family::Loss) {
        // Class indices as floats (exact below 2²⁴; any label that is not a class gives an
        // infinite loss, as on the CPU).
        let classes: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
        let labels = Tensor::<1>::from_data(TensorData::new(classes, [n]), &device); // [n]
        let (loss, _gradient) =
            <Dispatch as gpu::GpuKernels>::cross_entropy(logits.into_dispatch(), labels.into_dispatch());
        return Tensor::from_dispatch(loss);
    }
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [n]), &device); // [n]
    log_softmax(logits, 1).gather(1, y.reshape([n, 1])).mean().neg()
}

/// One SGD step of one tensor (`optim::sgd_update`'s rule): the new value and momentum buffer.
/// `buffer` is none on the first step. One pass where the device has a kernel for it (the CPU
/// backend's in place, WebGPU's `gpu::GpuKernels::sgd_step`), burn's operations
/// ([`generic_sgd`]) elsewhere: the same rule and roundings everywhere.
pub fn sgd_step(
    value: Tensor<1>,
    grad: Tensor<1>,
    buffer: Option<Tensor<1>>,
    [momentum, decay, lr]: [f32; 3],
) -> (Tensor<1>, Tensor<1>) {
    let device = value.device();
    let first = buffer.is_none();
    // On the first step the rule never reads the buffer: the gradient stands in.
    let buffer = buffer.unwrap_or_else(|| grad.clone());
    let (value, grad, buffer) = (
        value.into_dispatch(),
        grad.into_dispatch(),
        buffer.into_dispatch(),
    );
    let (value, buffer) = if on_cpu(&device) {
        <Dispatch as CpuKernels>::sgd_step(value, grad, buffer, momentum, decay, lr, first)
    } else {
        #[cfg(feature = "webgpu")]
        if gpu::enabled(gpu::Family::Sgd) {
            let (value, buffer) = <Dispatch as gpu::GpuKernels>::sgd_step(
                value,
                grad,
                buffer,
                usize::MAX,
                momentum,
                decay,
                lr,
                first,
            );
            return (Tensor::from_dispatch(value), Tensor::from_dispatch(buffer));
        }
        generic_sgd::<Dispatch>(value, grad, buffer, [momentum, decay, lr], first)
    };
    (Tensor::from_dispatch(value), Tensor::from_dispatch(buffer))
}

/// 2×2 max pooling with stride 2, `x: [batch, c, h, w]` → `[batch, c, h/2, w/2]`: the CPU
/// backend's kernel there; elsewhere a reshape and two maxima rather than burn's `max_pool2d`
/// (the same computation, one generic pooling kernel fewer).
pub fn max_pool_2x2(x: Tensor<4>) -> Tensor<4> {
    if on_cpu(&x.device()) {
        return Tensor::from_dispatch(<Dispatch as CpuKernels>::max_pool_2x2(x.into_dispatch()));
    }
    let [batch, channels, h, w] = x.dims();
    #[cfg(feature = "webgpu")]
    if h % 2 == 0 && w % 2 == 0 && gpu::enabled(gpu::Family::Pool) {
        return Tensor::from_dispatch(<Dispatch as gpu::GpuKernels>::max_pool_2x2(x.into_dispatch()));
    }
    x.reshape([batch, channels, h / 2, 2, w / 2, 2]) // [batch, c, h/2, 2, w/2, 2]
        .max_dim(5)
        .max_dim(3)
        .reshape([batch, channels, h / 2, w / 2])
}

/// Whether `device` (autodiff or not) is the CPU backend, whose kernels are [`CpuKernels`].
pub(crate) fn on_cpu(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

/// A tensor's values as one `f32` slice, copying only if it is a strided view.
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// A contiguous f32 tensor's values to write in place: its own storage, copied first only if
/// another tensor shares it (a checkpoint's snapshot keeps its values).
fn values_mut(t: &mut FlexTensor) -> &mut [f32] {
    let (start, end) = t.layout().contiguous_offsets().expect("a contiguous tensor");
    &mut t.storage_mut::<f32>()[start..end]
}

fn dims(t: &FlexTensor) -> Vec<usize> {
    t.layout().shape().to_vec()
}

fn tensor(values: Vec<f32>, dims: Vec<usize>) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(Shape::from(dims)),
        DType::F32,
    )
}

/// The convolution's sizes, if every tensor is f32 and the kernels handle the shape.
fn conv_shape(x: &FlexTensor, weight: &FlexTensor, stride: usize, padding: usize) -> Option<ConvShape> {
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return None;
    }
    let (x, w) = (dims(x), dims(weight));
    if x.len() != 4 || w.len() != 4 || w[1] != x[1] || w[2] != w[3] {
        return None;
    }
    let shape = ConvShape {
        batch: x[0],
        channels: x[1],
        height: x[2],
        width: x[3],
        outputs: w[0],
        kernel: w[2],
        stride,
        padding,
    };
    shape.supported().then_some(shape)
}

fn conv_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    stride: usize,
    padding: usize,
    relu: bool,
) -> FlexTensor {
    let shape = conv_shape(&x, &weight, stride, padding)
        .filter(|_| bias.as_ref().is_none_or(|b| b.dtype() == DType::F32));
    let Some(shape) = shape else {
        let out = Flex::conv2d(x, weight, bias, options(stride, padding));
        return if relu { Flex::relu(out) } else { out };
    };
    let (x, weight) = (contiguous(x), contiguous(weight));
    let bias = bias.map(contiguous);
    let out = conv::forward(
        &shape,
        values(&x),
        values(&weight),
        bias.as_ref().map(values),
        relu,
    );
    let out_dims = vec![shape.batch, shape.outputs, shape.out_height(), shape.out_width()];
    tensor(out, out_dims)
}

impl CpuKernels for Flex {
    fn conv2d_biased(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        stride: usize,
        padding: usize,
        relu: bool,
    ) -> FlexTensor {
        conv_forward(x, weight, Some(bias), stride, padding, relu)
    }

    fn conv2d_plain(x: FlexTensor, weight: FlexTensor, stride: usize, padding: usize) -> FlexTensor {
        conv_forward(x, weight, None, stride, padding, false)
    }

    fn conv2d_input_grad(
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        stride: usize,
        padding: usize,
    ) -> FlexTensor {
        let Some(shape) = conv_shape(&x, &weight, stride, padding) else {
            return Flex::conv2d_x_backward(x, weight, grad, options(stride, padding));
        };
        let (weight, grad) = (contiguous(weight), contiguous(grad));
        let dx = conv::input_grad(&shape, values(&weight), values(&grad));
        tensor(dx, dims(&x))
    }

    fn conv2d_weight_grad(
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        stride: usize,
        padding: usize,
    ) -> FlexTensor {
        let Some(shape) = conv_shape(&x, &weight, stride, padding) else {
            return Flex::conv2d_weight_backward(x, weight, grad, options(stride, padding));
        };
        let (x, grad) = (contiguous(x), contiguous(grad));
        let dw = conv::weight_grad(&shape, values(&x), values(&grad));
        tensor(dw, dims(&weight))
    }

    fn conv2d_bias_grad(x: FlexTensor, bias: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let g = dims(&grad);
        if grad.dtype() != DType::F32 || g.len() != 4 {
            return Flex::conv2d_bias_backward(x, bias, grad);
        }
        let shape = ConvShape {
            batch: g[0],
            channels: 1,
            height: g[2],
            width: g[3],
            outputs: g[1],
            kernel: 1,
            stride: 1,
            padding: 0,
        };
        let grad = contiguous(grad);
        tensor(conv::bias_grad(&shape, values(&grad)), dims(&bias))
    }

    fn dense_with_background(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        relu: bool,
    ) -> (FlexTensor, Option<f32>) {
        let (xd, wd, bd) = (dims(&x), dims(&weight), dims(&bias));
        let f32s = [&x, &weight, &bias].iter().all(|t| t.dtype() == DType::F32);
        if !f32s || xd.len() != 2 || wd.len() != 2 || bd.len() != 1 || xd[1] != wd[0] || wd[1] != bd[0] {
            return (generic_dense::<Flex>(x, weight, bias, relu), None);
        }
        let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
        let background = dense::background(values(&x));
        let out = dense::forward(
            values(&x),
            values(&weight),
            values(&bias),
            xd[0],
            relu,
            background,
        );
        (tensor(out, vec![xd[0], wd[1]]), background)
    }

    fn dense_relu_mask(out: FlexTensor, grad: FlexTensor) -> FlexTensor {
        if out.dtype() != DType::F32 || grad.dtype() != DType::F32 || dims(&out) != dims(&grad) {
            return Flex::relu_backward(out, grad);
        }
        // In the gradient's own storage (copied first only if shared): one fresh buffer fewer.
        let (out, mut grad) = (contiguous(out), contiguous(grad));
        dense::relu_mask(values(&out), values_mut(&mut grad));
        grad
    }

    fn dense_input_grad(weight: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let (wd, gd) = (dims(&weight), dims(&grad));
        let (weight, grad) = (contiguous(weight), contiguous(grad));
        tensor(
            dense::input_grad(values(&weight), values(&grad), gd[0], gd[1]),
            vec![gd[0], wd[0]],
        )
    }

    fn dense_weight_grad(
        x: FlexTensor,
        grad: FlexTensor,
        weight: FlexTensor,
        bias_grad: FlexTensor,
        background: Option<f32>,
    ) -> FlexTensor {
        let (xd, gd) = (dims(&x), dims(&grad));
        let (x, grad, bias_grad) = (contiguous(x), contiguous(grad), contiguous(bias_grad));
        let sizes = (gd[0], gd[1]);
        let operands = (values(&x), values(&grad), values(&bias_grad));
        let out = folded_sgd::claim(&weight, operands, sizes, background)
            .unwrap_or_else(|| dense::weight_grad(operands.0, operands.1, operands.2, sizes, background));
        tensor(out, vec![xd[1], gd[1]])
    }

    fn dense_bias_grad(grad: FlexTensor) -> FlexTensor {
        let gd = dims(&grad);
        let grad = contiguous(grad);
        tensor(dense::column_sums(values(&grad), gd[1]), vec![gd[1]])
    }

    fn max_pool_2x2(x: FlexTensor) -> FlexTensor {
        let d = dims(&x);
        if x.dtype() != DType::F32 || d.len() != 4 || !d[2].is_multiple_of(2) || !d[3].is_multiple_of(2) {
            return Flex::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false);
        }
        let x = contiguous(x);
        let out = pool::forward(values(&x), d[0] * d[1], d[2], d[3]);
        tensor(out, vec![d[0], d[1], d[2] / 2, d[3] / 2])
    }

    fn max_pool_2x2_grad(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let d = dims(&x);
        if x.dtype() != DType::F32 || d.len() != 4 || !d[2].is_multiple_of(2) || !d[3].is_multiple_of(2) {
            return generic_pool_grad::<Flex>(x, grad);
        }
        let (x, grad) = (contiguous(x), contiguous(grad));
        let dx = pool::backward(values(&x), values(&grad), d[0] * d[1], d[2], d[3]);
        tensor(dx, d)
    }

    /// In place over the value's and the buffer's own storage (a copy only if another tensor
    /// shares it): burn-flex's `into_data` and `from_data` copied each tensor twice and
    /// re-aligned it (8% of a native FCN step).
    fn sgd_step(
        value: FlexTensor,
        grad: FlexTensor,
        buffer: FlexTensor,
        momentum: f32,
        decay: f32,
        lr: f32,
        first: bool,
    ) -> (FlexTensor, FlexTensor) {
        let len = value.layout().num_elements();
        let fits = |t: &FlexTensor| t.dtype() == DType::F32 && t.layout().num_elements() == len;
        if !fits(&value) || !fits(&grad) || (!first && !fits(&buffer)) {
            return generic_sgd::<Flex>(value, grad, buffer, [momentum, decay, lr], first);
        }
        let grad = contiguous(grad);
        let g = values(&grad);
        let mut value = contiguous(value);
        let theta = values_mut(&mut value);
        if first {
            // The update is the gradient itself (plus decay); kept as the buffer only with
            // momentum (the caller drops it otherwise, so the gradient stands in).
            let mut update = (momentum > 0.0).then(|| Vec::with_capacity(len));
            for (t, g) in theta.iter_mut().zip(g) {
                let g = if decay > 0.0 { *g + *t * decay } else { *g };
                if let Some(update) = update.as_mut() {
                    update.push(g);
                }
                *t -= g * lr;
            }
            let buffer = match update {
                Some(update) => tensor(update, dims(&grad)),
                None => grad,
            };
            return (value, buffer);
        }
        let mut buffer = contiguous(buffer);
        let b = values_mut(&mut buffer);
        // On every thread (the page's serial share of an FCN step was 5% this loop); each
        // value's update reads only its own entries, so the split changes no bit.
        conv::in_parts_pair(3 * len, theta, b, |range, theta, b| {
            let lanes = theta.iter_mut().zip(b.iter_mut()).zip(&g[range]);
            sgd_lanes(lanes.map(|((t, b), g)| (*t, *g, b, t)), [momentum, decay, lr]);
        });
        (value, buffer)
    }
}
