//! Autodiff over [`CpuKernels`]: the convolution, pooling and dense forward passes recorded with their
//! backward steps, which call the inner backend's gradient kernels.

use super::CpuKernels;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend};

/// The convolution's saved inputs for its backward pass, and its geometry.
type ConvState<B> = (FloatTensor<B>, FloatTensor<B>, usize, usize);

#[derive(Debug)]
struct ConvWithBias;

impl<B: CpuKernels> Backward<B, 3> for ConvWithBias {
    /// The convolution's inputs, its bias, and its output when a ReLU follows (for the mask).
    type State = (ConvState<B>, FloatTensor<B>, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let ((x, weight, stride, padding), bias, relu_out) = ops.state;
        // Through the ReLU first: the gradient where its output was positive (or NaN).
        let grad = match relu_out {
            Some(out) => B::dense_relu_mask(out, grad),
            None => grad,
        };
        if let Some(node) = node_bias {
            let db = B::conv2d_bias_grad(x.clone(), bias, grad.clone());
            grads.register::<B>(node.id, db);
        }
        conv_backward::<B>(
            node_x.map(|n| n.id),
            node_weight.map(|n| n.id),
            grads,
            grad,
            (x, weight, stride, padding),
        );
    }
}

#[derive(Debug)]
struct ConvNoBias;

impl<B: CpuKernels> Backward<B, 2> for ConvNoBias {
    type State = ConvState<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        conv_backward::<B>(
            node_x.map(|n| n.id),
            node_weight.map(|n| n.id),
            grads,
            grad,
            ops.state,
        );
    }
}

/// Registers the gradients of a convolution's input and weight, those that are tracked.
fn conv_backward<B: CpuKernels>(
    node_x: Option<NodeId>,
    node_weight: Option<NodeId>,
    grads: &mut Gradients,
    grad: FloatTensor<B>,
    (x, weight, stride, padding): ConvState<B>,
) {
    if let Some(id) = node_x {
        let dx = B::conv2d_input_grad(x.clone(), weight.clone(), grad.clone(), stride, padding);
        grads.register::<B>(id, dx);
    }
    if let Some(id) = node_weight {
        grads.register::<B>(id, B::conv2d_weight_grad(x, weight, grad, stride, padding));
    }
}

/// A dense layer's saved input, weight and bias, its output when a ReLU follows (for the
/// mask), and the input's background value where the forward pass's kernels found one (the CPU
/// kernels' offset product; the weight gradient takes it rather than scanning the input again):
/// the state of the CPU's and the WebGPU kernels' dense backward steps alike. The bias is kept
/// for who it is (WebGPU writes a flat parameter's gradient where the optimizer reads it), not
/// for its values.
pub(super) type DenseState<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    Option<FloatTensor<B>>,
    Option<f32>,
);

/// Tensors on autodiff over `B`.
type Tracked<B, C> = FloatTensor<Autodiff<B, C>>;

/// Records a dense layer whose output (and the background found in `x`, if any) `forward`
/// computes from the inner tensors (`x`, `weight`, `bias`), with `step` as its backward step
/// and, when tracked, its [`DenseState`]; returns both.
pub(super) fn record_dense<BO, B, C>(
    step: BO,
    (x, weight, bias): (Tracked<B, C>, Tracked<B, C>, Tracked<B, C>),
    relu: bool,
    forward: impl FnOnce(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) -> (FloatTensor<B>, Option<f32>),
) -> (Tracked<B, C>, Option<f32>)
where
    BO: Backward<B, 3, State = DenseState<B>>,
    B: Backend,
    C: CheckpointStrategy,
{
    let prep = step
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful();
    let saved = is_tracked(&prep).then(|| {
        (
            x.primitive().clone(),
            weight.primitive().clone(),
            bias.primitive().clone(),
        )
    });
    let (out, background) = forward(x.into_primitive(), weight.into_primitive(), bias.into_primitive());
    let state = saved.map(|(x, weight, bias)| (x, weight, bias, relu.then(|| out.clone()), background));
    (finish(prep, state, out), background)
}

/// The four gradient steps of a dense layer's backward pass, as a family of kernels provides
/// them for backend `B`: the one [`DenseBackward`] step runs them for the CPU's kernels and the
/// WebGPU ones alike.
pub(super) trait DenseGradients<B: Backend>: Send + std::fmt::Debug + 'static {
    /// The gradient at the layer's product, `[rows, outputs]`: `grad` where the ReLU output
    /// `relu_out` was positive (or NaN) and zero elsewhere, or `grad` itself without a ReLU;
    /// and the bias gradient `[outputs]`, that summed over its rows (the gradient of `bias`).
    fn output_grads(
        relu_out: Option<FloatTensor<B>>,
        grad: FloatTensor<B>,
        bias: FloatTensor<B>,
    ) -> (FloatTensor<B>, FloatTensor<B>);
    /// The input gradient `grad · weightᵀ`, `[rows, inputs]`.
    fn input_grad(weight: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B>;
    /// The weight gradient `xᵀ · grad`, `[inputs, outputs]` (the gradient of `weight`), given
    /// the bias gradient [`Self::output_grads`] made and the background the forward pass found
    /// in `x`.
    fn weight_grad(
        x: FloatTensor<B>,
        grad: FloatTensor<B>,
        weight: FloatTensor<B>,
        bias_grad: FloatTensor<B>,
        background: Option<f32>,
    ) -> FloatTensor<B>;
}

/// A dense layer's backward step through the gradient kernels of family `K`.
#[derive(Debug)]
pub(super) struct DenseBackward<K>(std::marker::PhantomData<K>);

impl<K> DenseBackward<K> {
    pub(super) fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<B: Backend, K: DenseGradients<B>> Backward<B, 3> for DenseBackward<K> {
    type State = DenseState<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node); // [rows, outputs]
        let (x, weight, bias, relu_out, background) = ops.state;
        let (grad, bias_grad) = K::output_grads(relu_out, grad, bias);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, K::input_grad(weight.clone(), grad.clone()));
        }
        if let Some(node) = node_weight {
            let dw = K::weight_grad(x, grad, weight, bias_grad.clone(), background);
            grads.register::<B>(node.id, dw);
        }
        if let Some(node) = node_bias {
            grads.register::<B>(node.id, bias_grad);
        }
    }
}

/// The CPU kernels' dense gradients ([`CpuKernels`]).
#[derive(Debug)]
struct CpuDense;

impl<B: CpuKernels> DenseGradients<B> for CpuDense {
    fn output_grads(
        relu_out: Option<FloatTensor<B>>,
        grad: FloatTensor<B>,
        _bias: FloatTensor<B>,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let grad = match relu_out {
            Some(out) => B::dense_relu_mask(out, grad),
            None => grad,
        };
        (grad.clone(), B::dense_bias_grad(grad))
    }
    fn input_grad(weight: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
        B::dense_input_grad(weight, grad)
    }
    fn weight_grad(
        x: FloatTensor<B>,
        grad: FloatTensor<B>,
        weight: FloatTensor<B>,
        bias_grad: FloatTensor<B>,
        background: Option<f32>,
    ) -> FloatTensor<B> {
        B::dense_weight_grad(x, grad, weight, bias_grad, background)
    }
}

#[derive(Debug)]
struct MaxPool;

impl<B: CpuKernels> Backward<B, 1> for MaxPool {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_one::<B, _>(ops, grads, B::max_pool_2x2_grad);
    }
}

/// The backward step of an operation with one input: the input's gradient from the saved
/// state and the output's gradient, registered when the input is tracked.
pub(super) fn backward_one<B: Backend, S>(
    ops: Ops<S, 1>,
    grads: &mut Gradients,
    gradient: impl FnOnce(S, FloatTensor<B>) -> FloatTensor<B>,
) {
    let [node] = ops.parents;
    let grad = grads.consume::<B>(&ops.node);
    if let Some(node) = node {
        grads.register::<B>(node.id, gradient(ops.state, grad));
    }
}

/// Records `output` with `prep`: with its backward state when the operation is tracked (`state`
/// is then `Some`, saved by the caller before the inputs were consumed), without otherwise.
pub(super) fn finish<BO, B, C, const N: usize>(
    prep: OpsKind<BO, B, BO::State, C, N>,
    state: Option<BO::State>,
    output: FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>>
where
    BO: Backward<B, N>,
    B: Backend,
    C: CheckpointStrategy,
{
    match (prep, state) {
        (OpsKind::Tracked(prep), Some(state)) => prep.finish(state, output),
        (OpsKind::Tracked(_), None) => unreachable!("a tracked operation saves its state"),
        (OpsKind::UnTracked(prep), _) => prep.finish(output),
    }
}

pub(super) fn is_tracked<BO, B, S, C, const N: usize>(prep: &OpsKind<BO, B, S, C, N>) -> bool {
    matches!(prep, OpsKind::Tracked(_))
}

impl<B: CpuKernels, C: CheckpointStrategy> CpuKernels for Autodiff<B, C> {
    fn conv2d_biased(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        relu: bool,
    ) -> FloatTensor<Self> {
        let prep = ConvWithBias
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful();
        let saved = is_tracked(&prep).then(|| {
            (
                (x.primitive().clone(), weight.primitive().clone(), stride, padding),
                bias.primitive().clone(),
            )
        });
        let out = B::conv2d_biased(
            x.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            stride,
            padding,
            relu,
        );
        let state = saved.map(|(conv, bias)| (conv, bias, relu.then(|| out.clone())));
        finish(prep, state, out)
    }

    fn conv2d_plain(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let prep = ConvNoBias
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful();
        let state =
            is_tracked(&prep).then(|| (x.primitive().clone(), weight.primitive().clone(), stride, padding));
        let out = B::conv2d_plain(x.into_primitive(), weight.into_primitive(), stride, padding);
        finish(prep, state, out)
    }

    fn dense_with_background(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> (FloatTensor<Self>, Option<f32>) {
        record_dense::<_, B, C>(
            DenseBackward::<CpuDense>::new(),
            (x, weight, bias),
            relu,
            |x, weight, bias| B::dense_with_background(x, weight, bias, relu),
        )
    }

    fn max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let prep = MaxPool.prepare::<C>([x.node()]).compute_bound().stateful();
        let state = is_tracked(&prep).then(|| x.primitive().clone());
        finish(prep, state, B::max_pool_2x2(x.into_primitive()))
    }

    fn sgd_step(
        value: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        buffer: FloatTensor<Self>,
        momentum: f32,
        decay: f32,
        lr: f32,
        first: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        on_values::<B, C>([value, grad, buffer], |[value, grad, buffer]| {
            B::sgd_step(value, grad, buffer, momentum, decay, lr, first)
        })
    }
}

/// An optimizer step over autodiff tensors: `step` on the inner backend's values, its two
/// results without a graph (the optimizer works on the values; not differentiable). Shared by
/// the CPU's and the WebGPU kernels' steps.
pub(super) fn on_values<B: Backend, C: CheckpointStrategy>(
    tensors: [Tracked<B, C>; 3],
    step: impl FnOnce([FloatTensor<B>; 3]) -> (FloatTensor<B>, FloatTensor<B>),
) -> (Tracked<B, C>, Tracked<B, C>) {
    let (first, second) = step(tensors.map(|t| t.into_primitive()));
    (
        Autodiff::<B, C>::from_inner(first),
        Autodiff::<B, C>::from_inner(second),
    )
}
