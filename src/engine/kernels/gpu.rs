//! The WebGPU backend's own kernels for what training spends its time in: one tiled product
//! `C = op(A)·op(B)` that writes `C + bias` (and its ReLU) in the same pass and computes both
//! backward products by reading its operands transposed; "same" convolutions with their
//! gradients; 2×2 max pooling; the training loss with its gradient; a dense layer's ReLU mask
//! with its bias gradient; the SGD step. Registered with burn as a backend extension
//! ([`GpuKernels`]) for cubecl, for burn's fusion over it (as opaque operations of its stream)
//! and for autodiff, with the backward passes written out.
//!
//! burn 0.22's matmul on WebGPU (autotune off) takes cubek's general strategy: a shared-memory
//! kernel staged through workgroup barriers, and bias and ReLU as passes of their own; its loss
//! and optimizer are a dozen small passes each. Here each product unit keeps a block of outputs
//! in registers and reads its operands straight from the buffers, four floats a load where the
//! shape allows (the shape of TF.js's kernels): large units on a software adapter, where every
//! load is a gather per lane, and small ones in many workgroups on a GPU ([`ProductUnit`]).

// In the kernels `v != v` is the NaN test, and a comptime flag's `if` stays apart from the
// runtime one inside it, so that the flag removes the whole branch when the kernel expands.
#![allow(clippy::eq_op, clippy::collapsible_if)]

use super::autodiff::{
    DenseBackward, DenseGradients, backward_one, finish, is_tracked, on_values, record_dense,
};
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, backend_extension};
use burn::tensor::{DType, Shape};
use burn_cubecl::CubeBackend;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

mod flat;
pub use flat::FLAT_ALIGNMENT;

/// Kernel families of this module that are switched off (bits of [`Family`]), so that the
/// bench can compare each with burn's operations in one build (`set_disabled`); none by default.
static DISABLED: AtomicU32 = AtomicU32::new(0);

/// A family of kernels that [`set_disabled`] can switch back to burn's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Dense = 1,
    Conv = 2,
    Pool = 4,
    /// The training loss with its gradient.
    Loss = 8,
    /// The SGD step.
    Sgd = 16,
    /// The SGD step as one pass over flat buffers (`optim::flat`); off, one pass per tensor.
    FlatSgd = 32,
}

/// Switches the families in `mask` (bits of [`Family`]) to burn's operations, the rest to
/// these kernels; for the bench.
pub fn set_disabled(mask: u32) {
    DISABLED.store(mask, Ordering::Relaxed);
}

pub fn enabled(family: Family) -> bool {
    DISABLED.load(Ordering::Relaxed) & family as u32 == 0
}

/// The convolution kernels' outputs per unit along each axis (8×8 measured slower on VGG-11:
/// 4.74 against 5.36 samples/s, first step 14.3 against 8.8 s), and units per workgroup along
/// each axis.
const BLOCK: usize = 4;
/// The product kernel's unit: an 8×8 block of outputs, 16 reads per 64 multiply-adds where a
/// 4×4 block reads 8 per 16 (FCN step 626 → 489 ms, mean of three alternating runs).
const PRODUCT_BLOCK: usize = 8;
/// The product kernel's unit for products of at most [`SMALL_PRODUCT`] multiply-adds (the
/// 10-class layer's): a 4×4 block, whose shader SwiftShader compiles in a fraction of the 8×8
/// one's time, while the product is too small for the unit's reads to matter.
const SMALL_PRODUCT_BLOCK: usize = 4;
/// Multiply-adds up to which a product takes [`SMALL_PRODUCT_BLOCK`].
const SMALL_PRODUCT: usize = 1 << 20;
const GROUP: u32 = 8;

/// Operations the WebGPU backend runs with its own kernels.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait GpuKernels: Backend {
    /// `act(x · weight + bias)` for `x: [rows, inputs]`, `weight: [inputs, outputs]`,
    /// `bias: [outputs]`, `act` the ReLU when `relu`, else the identity.
    #[fusion(dtype = x, shape = Shape::new([x[0], weight[1]]))]
    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// `op(a) · op(b)` for 2-D `a` and `b`, where `op` transposes the operand whose flag is set.
    #[fusion(dtype = a, shape = product_shape(a, b, transpose_a, transpose_b))]
    fn product(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        transpose_a: bool,
        transpose_b: bool,
    ) -> FloatTensor<Self>;

    /// `act(conv(x, weight) + bias)` with stride 1 and "same" padding (`k / 2`, `k` odd), for
    /// `x: [batch, channels, h, w]`, `weight: [outputs, channels, k, k]`, `bias: [outputs]`.
    #[fusion(dtype = x, shape = Shape::new([x[0], weight[0], x[2], x[3]]))]
    fn conv_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// [`conv_same`](GpuKernels::conv_same) without a bias or activation.
    #[fusion(dtype = x, shape = Shape::new([x[0], weight[0], x[2], x[3]]))]
    fn conv_same_plain(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The input gradient `[batch, channels, h, w]` of a "same" convolution from its output
    /// gradient `grad: [batch, outputs, h, w]`.
    #[fusion(dtype = grad, shape = Shape::new([grad[0], weight[1], grad[2], grad[3]]))]
    fn conv_same_input_grad(weight: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The weight gradient `[outputs, channels, k, k]` of a "same" convolution, for `weight`:
    /// written in the gradient home of `weight`'s flat parameters when it has one
    /// ([`gradient_home`](GpuKernels::gradient_home)).
    #[fusion(dtype = x, shape = Shape::new([grad[1], x[1], weight[2], weight[3]]))]
    fn conv_same_weight_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The bias gradient `[outputs]` of a convolution, `grad: [batch, outputs, h, w]` summed
    /// over all but its channels, for `bias` (written in its gradient home when it has one).
    #[fusion(dtype = grad, shape = Shape::new([grad[1]]))]
    fn conv_bias_grad(grad: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;

    /// 2×2 max pooling, stride 2: `[batch, c, h, w]` → `[batch, c, h/2, w/2]`, h and w even.
    #[fusion(dtype = x, shape = Shape::new([x[0], x[1], x[2] / 2, x[3] / 2]))]
    fn max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Its input gradient: each window's gradient to its winner (the CPU kernel's rule).
    #[fusion(dtype = x, shape = x)]
    fn max_pool_2x2_grad(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The mean cross-entropy `[1]` of `logits: [rows, classes]` against `labels: [rows]` (class
    /// indices as floats; any other value is an infinite loss, as on the CPU), and its gradient
    /// with respect to the logits, `[rows, classes]`: one dispatch where burn's log-softmax,
    /// gather and mean with their backward steps made about fifteen.
    #[fusion(meta = |logits, _labels| (TensorSpec::new(Shape::new([1]), logits.dtype), logits.clone()))]
    fn cross_entropy(
        logits: FloatTensor<Self>,
        labels: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// A dense layer's output gradient `grad: [rows, cols]` through its ReLU (`out` its output;
    /// unread without `relu`) and that gradient's sum over the rows, the bias gradient `[cols]`:
    /// one pass where the mask, its comparison and the sum were three.
    /// The bias gradient goes to the gradient home of `bias`'s flat parameters when it has one
    /// ([`gradient_home`](GpuKernels::gradient_home)).
    #[fusion(meta = |_out, grad, _bias, _relu| (grad.clone(), TensorSpec::new(Shape::new([grad.shape[1]]), grad.dtype)))]
    fn dense_output_grads(
        out: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// One SGD step of one tensor (PyTorch's rule, as `optim.rs` states it): the new value and
    /// the new momentum buffer `b = momentum·b + g` (`g` itself on the `first` step, when
    /// `buffer` is not read), `g` the gradient plus `decay·value`. One pass over the tensor
    /// where burn's operations made four.
    /// Only the first `decayed` floats take the decay (the flat SGD keeps the weights that
    /// decay before the biases and batch-norm parameters that do not).
    #[allow(clippy::too_many_arguments)]
    #[fusion(meta = |value, _grad, _buffer, _decayed, _momentum, _decay, _lr, _first| (value.clone(), value.clone()))]
    fn sgd_step(
        value: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        buffer: FloatTensor<Self>,
        decayed: usize,
        momentum: f32,
        decay: f32,
        lr: f32,
        first: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The `len` floats of the flat `flat` from float `offset` (a multiple of
    /// [`FLAT_ALIGNMENT`]) as a tensor of their own, without a copy: the flat SGD's parameters.
    #[fusion(dtype = flat, shape = Shape::new([*len]))]
    fn flat_view(flat: FloatTensor<Self>, offset: usize, len: usize) -> FloatTensor<Self>;

    /// A new buffer the size of the flat parameters `params`, where the next backward pass's
    /// dense and convolution gradient kernels write the gradient of a view of `params`
    /// ([`flat_view`]) at that view's place, instead of a buffer of its own: the flat SGD then
    /// reads them all in one pass with nothing to gather. Its other floats are unset until
    /// [`place`] fills them.
    ///
    /// [`flat_view`]: GpuKernels::flat_view
    /// [`place`]: GpuKernels::place
    #[fusion(dtype = params, shape = params)]
    fn gradient_home(params: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `params`, no longer the parameters of a gradient home ([`gradient_home`]): the home's
    /// buffers are let go once the optimizer that named it is done.
    ///
    /// [`gradient_home`]: GpuKernels::gradient_home
    #[fusion(dtype = params, shape = params)]
    fn release_gradient_home(params: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `flat` with the floats of `part` from float `offset`, written in place: nothing to do
    /// where a gradient kernel wrote them there already ([`gradient_home`]), one copy pass
    /// otherwise.
    ///
    /// [`gradient_home`]: GpuKernels::gradient_home
    #[fusion(dtype = flat, shape = flat)]
    fn place(flat: FloatTensor<Self>, part: FloatTensor<Self>, offset: usize) -> FloatTensor<Self>;

    /// A dense layer's weight gradient `xᵀ · grad`, `[inputs, outputs]`, for `weight`: written
    /// in the gradient home of `weight`'s flat parameters when it has one
    /// ([`gradient_home`](GpuKernels::gradient_home)).
    #[fusion(dtype = x, shape = Shape::new([x[1], grad[1]]))]
    fn dense_weight_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// The shape of `op(a) · op(b)`.
fn product_shape(a: &Shape, b: &Shape, transpose_a: &bool, transpose_b: &bool) -> Shape {
    let rows = if *transpose_a { a[1] } else { a[0] };
    let cols = if *transpose_b { b[0] } else { b[1] };
    Shape::new([rows, cols])
}

/// A kernel's output value: `value + shift` when `with_bias`, then the CPU backend's ReLU
/// (NaN passes through) when `relu`.
#[cube]
fn activate(value: f32, shift: f32, #[comptime] with_bias: bool, #[comptime] relu: bool) -> f32 {
    let mut out = value;
    if with_bias {
        out += shift;
    }
    if relu {
        // A select, not a branch: SwiftShader turns every branch of a unit's outputs into
        // masked blocks, which its compiler takes long over (the forward product's 128).
        out = select(relu_keeps(out), out, 0.0);
    }
    out
}

/// Whether the CPU backend's ReLU keeps `value` (positive, or NaN so that a diverging run's NaN
/// passes), and so whether its gradient passes there too.
#[cube]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN's answer is the point
fn relu_keeps(value: f32) -> bool {
    // NaN compares false, so it is kept; one comparison, where `>` and `!=` joined by `||`
    // would be a branch in WGSL (which evaluates `||` lazily).
    !(value <= 0.0)
}

/// One unit: the `block`×`block` outputs from row `block·y` and column `block·x` of
/// `C = op(A)·op(B)`, `C: [rows, cols]`, summing over `depth`. `A` is `[rows, depth]` (stored
/// `[depth, rows]` when `a_transposed`), `B` is `[depth, cols]` (stored `[cols, depth]` when
/// `b_transposed`). Units at the edge read the last row or column again in place of the ones
/// past it, and write those outputs there too (the same values, see [`write_unit`]).
#[cube(launch_unchecked)]
fn product_kernel(
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    out: &mut [f32],
    rows: usize,
    cols: usize,
    depth: usize,
    #[comptime] a_transposed: bool,
    #[comptime] b_transposed: bool,
    #[comptime] with_bias: bool,
    #[comptime] relu: bool,
    #[comptime] block: usize,
) {
    let row0 = ABSOLUTE_POS_Y as usize * block;
    let col0 = ABSOLUTE_POS_X as usize * block;
    if row0 >= rows || col0 >= cols {
        terminate!();
    }
    let mut row = Array::<usize>::new(block);
    let mut col = Array::<usize>::new(block);
    #[unroll]
    for i in 0..block {
        row[i] = min(row0 + i, rows - 1);
        col[i] = min(col0 + i, cols - 1);
    }
    // Where each operand's element `k` lies for the unit's rows and columns, and how far the
    // next `k` is.
    let mut a_at = Array::<usize>::new(block);
    let mut b_at = Array::<usize>::new(block);
    let mut a_step = 1usize;
    let mut b_step = 1usize;
    #[unroll]
    for i in 0..block {
        if a_transposed {
            a_at[i] = row[i];
        } else {
            a_at[i] = row[i] * depth;
        }
        if b_transposed {
            b_at[i] = col[i] * depth;
        } else {
            b_at[i] = col[i];
        }
    }
    if a_transposed {
        a_step = rows;
    }
    if !b_transposed {
        b_step = cols;
    }

    let mut acc = Array::<f32>::new(comptime!(block * block));
    #[unroll]
    for i in 0..comptime!(block * block) {
        acc[i] = 0.0;
    }
    let mut av = Array::<f32>::new(block);
    let mut bv = Array::<f32>::new(block);
    for _ in 0..depth {
        #[unroll]
        for i in 0..block {
            av[i] = a[a_at[i]];
            bv[i] = b[b_at[i]];
            a_at[i] += a_step;
            b_at[i] += b_step;
        }
        #[unroll]
        for i in 0..block {
            #[unroll]
            for j in 0..block {
                acc[i * block + j] += av[i] * bv[j];
            }
        }
    }

    write_unit(
        out,
        &acc,
        bias,
        (row0, col0),
        (rows, cols),
        (block, block),
        (false, false),
        with_bias,
        relu,
    );
}

/// A product unit's `unit_rows × unit_cols` sums (`acc`, row by row) from `(row0, col0)` of `C:
/// [rows, cols]`, with the bias of each column and the ReLU applied, written without a branch:
/// an output past the edge of `C` goes where the unit read its operands from instead (the
/// kernels read the last row or column, or the last quad of them, again), so it writes the very
/// value the output's owner writes there. SwiftShader compiles a kernel with 128 guarded stores
/// in about 1.7 times the time of one without (540–750 against 335–410 ms for the subgroup
/// product). `by_quads`: whether the rows, and the columns, were clamped by whole quads (the
/// quad kernels along an axis read in quads) rather than one by one.
#[cube]
#[allow(clippy::too_many_arguments)]
fn write_unit(
    out: &mut [f32],
    acc: &Array<f32>,
    bias: &[f32],
    at: (usize, usize),
    size: (usize, usize),
    #[comptime] unit: (usize, usize),
    #[comptime] by_quads: (bool, bool),
    #[comptime] with_bias: bool,
    #[comptime] relu: bool,
) {
    let (row0, col0) = at;
    let (rows, cols) = size;
    let (unit_rows, unit_cols) = unit;
    #[unroll]
    for j in 0..unit_cols {
        let col = clamped(col0, j, cols, by_quads.1);
        let mut shift = 0.0f32;
        if with_bias {
            shift = bias[col];
        }
        #[unroll]
        for i in 0..unit_rows {
            let row = clamped(row0, i, rows, by_quads.0);
            out[row * cols + col] = activate(acc[i * unit_cols + j], shift, with_bias, relu);
        }
    }
}

/// Where the unit's `i`-th row (or column) from `first` was read, of `size`: `first + i` inside,
/// past the edge the last one (`min`), or with `by_quads` the same place in the last quad.
#[cube]
fn clamped(first: usize, #[comptime] i: usize, size: usize, #[comptime] by_quads: bool) -> usize {
    if by_quads {
        min(first / 4 + comptime!(i / 4), size / 4 - 1) * 4 + comptime!(i % 4)
    } else {
        min(first + i, size - 1)
    }
}

/// `acc[i·cols + j] += av[i] · bv[j]` over a unit of `(rows, cols)` outputs: one k.
#[cube]
fn add_products(acc: &mut Array<f32>, av: &Array<f32>, bv: &Array<f32>, #[comptime] unit: (usize, usize)) {
    let (rows, cols) = unit;
    #[unroll]
    for i in 0..rows {
        #[unroll]
        for j in 0..cols {
            acc[i * cols + j] += av[i] * bv[j];
        }
    }
}

/// The products of four k summed into each of a unit's `(rows, cols)` accumulators, which are
/// written once per four products (SwiftShader keeps every value in memory, so a write is a
/// store). `by_k.0`: A's values are held k by k (`av[t·rows + i]`), else row by row
/// (`av[4i + t]`); `by_k.1` the same for B's (`bv[t·cols + j]`, else `bv[4j + t]`).
#[cube]
fn add_four_products(
    acc: &mut Array<f32>,
    av: &Array<f32>,
    bv: &Array<f32>,
    #[comptime] unit: (usize, usize),
    #[comptime] by_k: (bool, bool),
) {
    let (rows, cols) = unit;
    // Steps between rows (a_row) and between k (a_k) in av; between columns and k in bv.
    let (a_row, a_k) = comptime!(if by_k.0 { (1usize, rows) } else { (4usize, 1usize) });
    let (b_col, b_k) = comptime!(if by_k.1 { (1usize, cols) } else { (4usize, 1usize) });
    #[unroll]
    for i in 0..rows {
        #[unroll]
        for j in 0..cols {
            acc[i * cols + j] += av[i * a_row] * bv[j * b_col]
                + av[i * a_row + a_k] * bv[j * b_col + b_k]
                + av[i * a_row + 2 * a_k] * bv[j * b_col + 2 * b_k]
                + av[i * a_row + 3 * a_k] * bv[j * b_col + 3 * b_k];
        }
    }
}

/// Four consecutive floats of an operand, read with one load: SwiftShader turns every load of a
/// unit into one gather per lane, so a quad moves four values for the price of one.
type Quad = Vector<f32, Const<4>>;

/// A quad's four values into `values[at..at + 4]` (registers, once the kernel expands).
#[cube]
fn spread(quad: Quad, values: &mut Array<f32>, #[comptime] at: usize) {
    #[unroll]
    for t in 0..4 {
        values[at + t] = quad.extract(t);
    }
}

/// A quad product's unit (`rows × cols` outputs of `C`, both in whole quads) and workgroup
/// (units across and down). Which one a launch takes depends on the adapter ([`set_adapter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProductUnit {
    pub rows: usize,
    pub cols: usize,
    pub group: (u32, u32),
}

/// On a software adapter (SwiftShader): 8 rows by 16 columns, 24 quad reads per 512
/// multiply-adds, in workgroups of 16 × 4 units (256 columns by 32 rows). Every load there is
/// a gather per lane and the lanes are few, so the fewest loads per multiply-add win, however
/// few units a product makes (the FCN's [128, 256] outputs are 256 units).
pub const SOFTWARE_UNIT: ProductUnit = ProductUnit {
    rows: 8,
    cols: 16,
    group: (16, 4),
};

/// On a hardware GPU: 4 × 4 outputs a unit in 8 × 8 workgroups (32 × 32 outputs), TF.js's
/// shape for its WebGPU products. A GPU needs thousands of units in flight to hide its memory
/// latency, and its caches serve the neighbouring units' reads: the FCN's [128, 256] outputs
/// are 2,048 units in 32 workgroups here, 256 units in 4 workgroups with the software unit.
/// Measured on an NVIDIA H200 (Vulkan, `examples/gpu_native.rs`, BENCHMARKS.md): faster than
/// the software unit in every FCN and VGG-11 turn, 1.5× at FCN batch 512.
pub const HARDWARE_UNIT: ProductUnit = ProductUnit {
    rows: 4,
    cols: 4,
    group: (8, 8),
};

/// Whether the adapter is a software one (see [`set_adapter`]); a hardware GPU until told.
static SOFTWARE_ADAPTER: AtomicBool = AtomicBool::new(false);

/// Tells the kernels what the WebGPU adapter is: `software` for a CPU renderer such as
/// SwiftShader, whose kernels take [`SOFTWARE_UNIT`]; [`HARDWARE_UNIT`] otherwise.
pub fn set_adapter(software: bool) {
    SOFTWARE_ADAPTER.store(software, Ordering::Relaxed);
}

/// Whether the device offers subgroups of exactly four lanes (see [`set_subgroups_of_four`]).
static SUBGROUPS_OF_FOUR: AtomicBool = AtomicBool::new(false);

/// Tells the kernels that the device was created with WebGPU's `subgroups` feature and that its
/// subgroups have four lanes, as [`product_shared_kernel`] is written for: on a software
/// adapter the products then take that kernel.
pub fn set_subgroups_of_four(yes: bool) {
    SUBGROUPS_OF_FOUR.store(yes, Ordering::Relaxed);
}

/// Whether [`set_subgroups_of_four`] was told yes.
pub fn subgroups_of_four() -> bool {
    SUBGROUPS_OF_FOUR.load(Ordering::Relaxed)
}

/// Whether the products take [`product_shared_kernel`]: a software adapter with subgroups of four.
fn shared_products() -> bool {
    SOFTWARE_ADAPTER.load(Ordering::Relaxed) && subgroups_of_four()
}

/// The product unit for the adapter the kernels were told of.
pub fn product_unit() -> ProductUnit {
    if SOFTWARE_ADAPTER.load(Ordering::Relaxed) {
        SOFTWARE_UNIT
    } else {
        HARDWARE_UNIT
    }
}

#[cube(launch_unchecked)]
fn product_quads_kernel(
    a: &[Quad],
    b: &[Quad],
    bias: &[f32],
    out: &mut [f32],
    rows: usize,
    cols: usize,
    depth: usize,
    #[comptime] a_transposed: bool,
    #[comptime] b_transposed: bool,
    #[comptime] with_bias: bool,
    #[comptime] relu: bool,
    #[comptime] unit_rows: usize,
    #[comptime] unit_cols: usize,
    #[comptime] depth_tail: bool,
) {
    let row0 = ABSOLUTE_POS_Y as usize * unit_rows;
    let col0 = ABSOLUTE_POS_X as usize * unit_cols;
    if row0 >= rows || col0 >= cols {
        terminate!();
    }
    let mut acc = Array::<f32>::new(comptime!(unit_rows * unit_cols));
    #[unroll]
    for i in 0..comptime!(unit_rows * unit_cols) {
        acc[i] = 0.0;
    }
    let mut av = Array::<f32>::new(comptime!(unit_rows * 4));
    let mut bv = Array::<f32>::new(comptime!(unit_cols * 4));
    let mut row = Array::<usize>::new(unit_rows);
    #[unroll]
    for i in 0..unit_rows {
        row[i] = min(row0 + i, rows - 1);
    }
    // B's quads (4 columns each) of the unit, clamped, when B is read along `cols`.
    let col_quads = cols / 4;
    let mut quad = Array::<usize>::new(comptime!(unit_cols / 4));
    #[unroll]
    for q in 0..comptime!(unit_cols / 4) {
        quad[q] = min(col0 / 4 + q, col_quads - 1);
    }
    if a_transposed {
        // A stored [depth, rows] (the unit's quads of rows per k), B [depth, cols]: one k at a
        // time.
        let row_quads = rows / 4;
        let mut row_quad = Array::<usize>::new(comptime!(unit_rows / 4));
        #[unroll]
        for r in 0..comptime!(unit_rows / 4) {
            row_quad[r] = min(row0 / 4 + r, row_quads - 1);
        }
        // Four k an iteration: a loop carries every accumulator from one iteration to the next,
        // which SwiftShader pays for as a masked store of each (128 with the software unit);
        // one k an iteration paid it once per 128 multiply-adds, as much as the products.
        let depth_quads = depth / 4;
        for k4 in 0..depth_quads {
            #[unroll]
            for t in 0..4 {
                let k = k4 * 4 + t;
                #[unroll]
                for r in 0..comptime!(unit_rows / 4) {
                    spread(a[k * row_quads + row_quad[r]], &mut av, t * unit_rows + r * 4);
                }
                #[unroll]
                for q in 0..comptime!(unit_cols / 4) {
                    spread(b[k * col_quads + quad[q]], &mut bv, t * unit_cols + q * 4);
                }
            }
            add_four_products(&mut acc, &av, &bv, (unit_rows, unit_cols), (true, true));
        }
        // A depth that is no whole number of quads (a last, odd batch) takes the rest one k at
        // a time, in a kernel of its own: the common kernel stays small to compile.
        if depth_tail {
            for k in depth_quads * 4..depth {
                #[unroll]
                for r in 0..comptime!(unit_rows / 4) {
                    spread(a[k * row_quads + row_quad[r]], &mut av, r * 4);
                }
                #[unroll]
                for q in 0..comptime!(unit_cols / 4) {
                    spread(b[k * col_quads + quad[q]], &mut bv, q * 4);
                }
                add_products(&mut acc, &av, &bv, (unit_rows, unit_cols));
            }
        }
    } else {
        // A stored [rows, depth]: each row's next four k in one quad.
        let depth_quads = depth / 4;
        let mut col = Array::<usize>::new(unit_cols);
        #[unroll]
        for j in 0..unit_cols {
            col[j] = min(col0 + j, cols - 1);
        }
        for k4 in 0..depth_quads {
            #[unroll]
            for i in 0..unit_rows {
                spread(a[row[i] * depth_quads + k4], &mut av, i * 4);
            }
            if b_transposed {
                // B stored [cols, depth]: each column's four k in one quad; a dot per output.
                #[unroll]
                for j in 0..unit_cols {
                    spread(b[col[j] * depth_quads + k4], &mut bv, j * 4);
                }
                add_four_products(&mut acc, &av, &bv, (unit_rows, unit_cols), (false, false));
            } else {
                // B stored [depth, cols]: the unit's columns at each of the four k, then one sum
                // of four products per output. An accumulator written once per four products
                // is a quarter of the stores: SwiftShader keeps them all in memory.
                #[unroll]
                for t in 0..4 {
                    #[unroll]
                    for q in 0..comptime!(unit_cols / 4) {
                        spread(
                            b[(k4 * 4 + t) * col_quads + quad[q]],
                            &mut bv,
                            t * unit_cols + q * 4,
                        );
                    }
                }
                add_four_products(&mut acc, &av, &bv, (unit_rows, unit_cols), (false, true));
            }
        }
    }

    write_unit(
        out,
        &acc,
        bias,
        (row0, col0),
        (rows, cols),
        (unit_rows, unit_cols),
        (a_transposed, !b_transposed),
        with_bias,
        relu,
    );
}

/// The four quads a subgroup's lanes read (lane q's `mine`) into `values[at + 4q..at + 4q + 4]`
/// of every lane, by `subgroupBroadcast` (SwiftShader: a mask and an OR across the lanes).
#[cube]
fn spread_subgroup(mine: Quad, values: &mut Array<f32>, #[comptime] at: usize) {
    #[unroll]
    for q in 0..4usize {
        spread(plane_broadcast(mine, comptime!(q as u32)), values, at + q * 4);
    }
}

/// Rows a lane of [`product_shared_kernel`] keeps (by [`SHARED_COLS`] columns).
const SHARED_LANE_ROWS: usize = 8;
/// Columns a subgroup of [`product_shared_kernel`] shares: one quad of them per lane.
const SHARED_COLS: usize = 16;
/// Lanes in the subgroups [`product_shared_kernel`] is written for (SwiftShader's).
const SHARED_LANES: usize = 4;
/// Subgroups across and down a workgroup of [`product_shared_kernel`].
const SHARED_GROUP: (u32, u32) = (4, 4);

/// [`product_quads_kernel`] for a software adapter with subgroups of four lanes (SwiftShader):
/// the four lanes of a subgroup keep 8 rows each by the same 16 columns, so each of B's quads is
/// read by one lane and handed to the other three by `subgroupBroadcast`, a register shuffle
/// there, where a read is a gather per lane with a branch per value. A lane reads 12 quads per
/// 512 multiply-adds instead of 24. No lane leaves early (a broadcast needs all four): edge
/// lanes read the last row or column again and write where they read ([`write_unit`]).
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn product_shared_kernel(
    a: &[Quad],
    b: &[Quad],
    bias: &[f32],
    out: &mut [f32],
    rows: usize,
    cols: usize,
    depth: usize,
    #[comptime] a_transposed: bool,
    #[comptime] b_transposed: bool,
    #[comptime] with_bias: bool,
    #[comptime] relu: bool,
    #[comptime] depth_tail: bool,
) {
    let lane = UNIT_POS_PLANE as usize;
    let subgroup = UNIT_POS as usize / SHARED_LANES;
    let across = comptime!(SHARED_GROUP.0 as usize);
    let down = comptime!(SHARED_GROUP.1 as usize);
    // The subgroup's 16 columns from col0, its 32 rows from the lane's 8 at row0.
    let col0 = (CUBE_POS_X as usize * across + subgroup % across) * SHARED_COLS;
    let row0 = ((CUBE_POS_Y as usize * down + subgroup / across) * SHARED_LANES + lane) * SHARED_LANE_ROWS;
    let mut acc = Array::<f32>::new(comptime!(SHARED_LANE_ROWS * SHARED_COLS));
    #[unroll]
    for i in 0..comptime!(SHARED_LANE_ROWS * SHARED_COLS) {
        acc[i] = 0.0;
    }
    // Four k of the lane's rows (av[t·8 + i] or av[i·4 + t]) and of the 16 columns (bv[t·16 + j]).
    let mut av = Array::<f32>::new(comptime!(SHARED_LANE_ROWS * 4));
    let mut bv = Array::<f32>::new(comptime!(SHARED_COLS * 4));
    let col_quads = cols / 4;
    let depth_quads = depth / 4;
    // The quad of columns this lane reads for the subgroup when B runs along `cols`.
    let lane_quad = min(col0 / 4 + lane, col_quads - 1);
    if a_transposed {
        // A stored [depth, rows]: the lane's 8 rows are two quads per k.
        let row_quads = rows / 4;
        let row_quad0 = min(row0 / 4, row_quads - 1);
        let row_quad1 = min(row0 / 4 + 1, row_quads - 1);
        for k4 in 0..depth_quads {
            #[unroll]
            for t in 0..4usize {
                let k = k4 * 4 + t;
                spread(a[k * row_quads + row_quad0], &mut av, t * SHARED_LANE_ROWS);
                spread(a[k * row_quads + row_quad1], &mut av, t * SHARED_LANE_ROWS + 4);
                let mine = b[k * col_quads + lane_quad];
                spread_subgroup(mine, &mut bv, t * SHARED_COLS);
            }
            add_four_products(&mut acc, &av, &bv, (SHARED_LANE_ROWS, SHARED_COLS), (true, true));
        }
        if depth_tail {
            for k in depth_quads * 4..depth {
                spread(a[k * row_quads + row_quad0], &mut av, 0usize);
                spread(a[k * row_quads + row_quad1], &mut av, 4usize);
                let mine = b[k * col_quads + lane_quad];
                spread_subgroup(mine, &mut bv, 0usize);
                add_products(&mut acc, &av, &bv, (SHARED_LANE_ROWS, SHARED_COLS));
            }
        }
    } else {
        // A stored [rows, depth]: each row's next four k in one quad.
        for k4 in 0..depth_quads {
            #[unroll]
            for i in 0..SHARED_LANE_ROWS {
                spread(a[min(row0 + i, rows - 1) * depth_quads + k4], &mut av, i * 4);
            }
            if b_transposed {
                // B stored [cols, depth]: column j's four k in one quad, read by lane j % 4.
                #[unroll]
                for h in 0..comptime!(SHARED_COLS / 4) {
                    let column = min(col0 + h * 4 + lane, cols - 1);
                    let mine = b[column * depth_quads + k4];
                    spread_subgroup(mine, &mut bv, h * 4 * 4);
                }
                add_four_products(
                    &mut acc,
                    &av,
                    &bv,
                    (SHARED_LANE_ROWS, SHARED_COLS),
                    (false, false),
                );
            } else {
                // B stored [depth, cols]: the 16 columns at each of the four k.
                #[unroll]
                for t in 0..4usize {
                    let mine = b[(k4 * 4 + t) * col_quads + lane_quad];
                    spread_subgroup(mine, &mut bv, t * SHARED_COLS);
                }
                add_four_products(&mut acc, &av, &bv, (SHARED_LANE_ROWS, SHARED_COLS), (false, true));
            }
        }
    }

    write_unit(
        out,
        &acc,
        bias,
        (row0, col0),
        (rows, cols),
        (SHARED_LANE_ROWS, SHARED_COLS),
        (a_transposed, !b_transposed),
        with_bias,
        relu,
    );
}

/// Whether [`product_quads_kernel`] can read the operands of `C = op(A)·op(B)` as quads: the
/// axis each is read along holds whole quads.
fn quads_fit(rows: usize, cols: usize, depth: usize, a_transposed: bool, b_transposed: bool) -> bool {
    let a_axis = if a_transposed { rows } else { depth };
    let b_axis = if b_transposed { depth } else { cols };
    // A transposed steps one k at a time and B's quads run along cols: no B-transposed pair.
    !(a_transposed && b_transposed) && a_axis.is_multiple_of(4) && b_axis.is_multiple_of(4)
}

/// A contiguous f32 tensor as a buffer of quads (its size a multiple of four).
fn quads_arg(tensor: CubeTensor) -> BufferArg {
    let floats = tensor.meta.shape().num_elements();
    debug_assert_eq!(floats % 4, 0);
    // Safety: the buffer holds `floats` f32 values, so `floats / 4` quads.
    unsafe { BufferArg::from_raw_parts_binding(tensor.handle.binding(), floats / 4) }
}

/// One unit of a stride-1 "same" convolution as a product: the 4 output channels from `4·y`
/// by the 4 pixels (of `batch·h·w`) from `4·x`, summing over input channels and the `k×k`
/// window, reading zero outside the image. With `flipped` it is the input gradient instead:
/// `x` is the output gradient and `weight` (`[channels, outputs, k, k]` from this unit's point
/// of view) is read transposed and rotated by 180°.
#[cube(launch_unchecked)]
fn conv_kernel(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    out: &mut [f32],
    batch: usize,
    channels: usize,
    outputs: usize,
    height: usize,
    width: usize,
    #[comptime] k: usize,
    #[comptime] flipped: bool,
    #[comptime] with_bias: bool,
    #[comptime] relu: bool,
) {
    let plane = height * width;
    let pixels = batch * plane;
    let o0 = ABSOLUTE_POS_Y as usize * 4;
    let p0 = ABSOLUTE_POS_X as usize * 4;
    if o0 >= outputs || p0 >= pixels {
        terminate!();
    }
    let pad = k / 2;
    let mut image = Array::<usize>::new(4usize); // offset of the pixel's image in `x`
    let mut at = Array::<usize>::new(4usize); // the pixel within its plane
    let mut py = Array::<usize>::new(4usize);
    let mut px = Array::<usize>::new(4usize);
    let mut o = Array::<usize>::new(4usize);
    #[unroll]
    for i in 0..4usize {
        let p = min(p0 + i, pixels - 1);
        let n = p / plane;
        at[i] = p % plane;
        py[i] = at[i] / width;
        px[i] = at[i] % width;
        image[i] = n * channels * plane;
        o[i] = min(o0 + i, outputs - 1);
    }
    let mut acc = Array::<f32>::new(16usize);
    #[unroll]
    for i in 0..16usize {
        acc[i] = 0.0;
    }
    let mut xv = Array::<f32>::new(4usize);
    let mut wv = Array::<f32>::new(4usize);
    for c in 0..channels {
        #[unroll]
        for ky in 0..k {
            #[unroll]
            for kx in 0..k {
                #[unroll]
                for i in 0..4usize {
                    let yy = py[i] + ky;
                    let xx = px[i] + kx;
                    let mut v = 0.0f32;
                    if yy >= pad && yy < height + pad && xx >= pad && xx < width + pad {
                        v = x[image[i] + c * plane + (yy - pad) * width + (xx - pad)];
                    }
                    xv[i] = v;
                    if flipped {
                        wv[i] = weight[((c * outputs + o[i]) * k + (k - 1 - ky)) * k + (k - 1 - kx)];
                    } else {
                        wv[i] = weight[((o[i] * channels + c) * k + ky) * k + kx];
                    }
                }
                #[unroll]
                for j in 0..4usize {
                    #[unroll]
                    for i in 0..4usize {
                        acc[j * 4 + i] += wv[j] * xv[i];
                    }
                }
            }
        }
    }
    #[unroll]
    for j in 0..4usize {
        let mut shift = 0.0f32;
        if with_bias {
            shift = bias[o[j]];
        }
        #[unroll]
        for i in 0..4usize {
            let value = activate(acc[j * 4 + i], shift, with_bias, relu);
            if o0 + j < outputs && p0 + i < pixels {
                let n = (p0 + i) / plane;
                out[(n * outputs + o0 + j) * plane + at[i]] = value;
            }
        }
    }
}

/// One unit of a "same" convolution's weight gradient: the 4 output channels from `4·y` by the
/// 4 (input channel, ky, kx) columns from `4·x`, summed over the images `[images·z, …)` and
/// their pixels, into `out: [splits, outputs, channels·k·k]` (split `z`).
#[cube(launch_unchecked)]
fn conv_weight_grad_kernel(
    x: &[f32],
    grad: &[f32],
    out: &mut [f32],
    batch: usize,
    channels: usize,
    outputs: usize,
    height: usize,
    width: usize,
    images: usize,
    #[comptime] k: usize,
) {
    let plane = height * width;
    let cols = channels * k * k;
    let o0 = ABSOLUTE_POS_Y as usize * 4;
    let c0 = ABSOLUTE_POS_X as usize * 4;
    let split = ABSOLUTE_POS_Z as usize;
    if o0 >= outputs || c0 >= cols {
        terminate!();
    }
    let pad = k / 2;
    let mut channel = Array::<usize>::new(4usize);
    let mut ky = Array::<usize>::new(4usize);
    let mut kx = Array::<usize>::new(4usize);
    let mut o = Array::<usize>::new(4usize);
    #[unroll]
    for i in 0..4usize {
        let col = min(c0 + i, cols - 1);
        channel[i] = col / (k * k);
        ky[i] = (col % (k * k)) / k;
        kx[i] = col % k;
        o[i] = min(o0 + i, outputs - 1);
    }
    let mut acc = Array::<f32>::new(16usize);
    #[unroll]
    for i in 0..16usize {
        acc[i] = 0.0;
    }
    let mut gv = Array::<f32>::new(4usize);
    let mut xv = Array::<f32>::new(4usize);
    let first = split * images;
    let last = min(first + images, batch);
    for n in first..last {
        for y in 0..height {
            for x0 in 0..width {
                #[unroll]
                for j in 0..4usize {
                    gv[j] = grad[(n * outputs + o[j]) * plane + y * width + x0];
                }
                #[unroll]
                for i in 0..4usize {
                    let yy = y + ky[i];
                    let xx = x0 + kx[i];
                    let mut v = 0.0f32;
                    if yy >= pad && yy < height + pad && xx >= pad && xx < width + pad {
                        v = x[(n * channels + channel[i]) * plane + (yy - pad) * width + (xx - pad)];
                    }
                    xv[i] = v;
                }
                #[unroll]
                for j in 0..4usize {
                    #[unroll]
                    for i in 0..4usize {
                        acc[j * 4 + i] += gv[j] * xv[i];
                    }
                }
            }
        }
    }
    #[unroll]
    for j in 0..4usize {
        #[unroll]
        for i in 0..4usize {
            if o0 + j < outputs && c0 + i < cols {
                out[(split * outputs + o0 + j) * cols + c0 + i] = acc[j * 4 + i];
            }
        }
    }
}

/// Output channels per unit of the quad convolutions (two quads of the repacked weights).
const CONV_QUAD_OUTPUTS: usize = 8;
/// Output channels per unit of the quad weight gradient (16: the last 4×4 layer's gradient
/// 119 → 57–91 ms in `bench/webgpu-replay.mjs` against 8).
const CONV_GRAD_OUTPUTS: usize = 16;
/// The largest kernel the quad convolutions take (3×3: the weight gradient's unit keeps
/// `16·k²` sums; a row of four outputs reads at most `k/2` pixels past each end, inside the
/// quads either side).
const CONV_QUAD_MAX_KERNEL: usize = 3;
/// Units per workgroup of the quad convolutions, numbered along one axis so that no lane idles
/// when a layer has few output channels or few pixels.
const CONV_QUAD_GROUP: u32 = 64;

/// The weights of a convolution as `[channels, k, k, outputs]`, output channels innermost, so
/// that four of them are one quad: from `[outputs, channels, k, k]`, or when `flipped` (the
/// input gradient's weights) from `[channels, outputs, k, k]` rotated by 180°.
#[cube(launch_unchecked)]
fn conv_repack_kernel(
    weight: &[f32],
    out: &mut [f32],
    channels: usize,
    outputs: usize,
    #[comptime] k: usize,
    #[comptime] flipped: bool,
) {
    let i = ABSOLUTE_POS;
    if i >= channels * outputs * k * k {
        terminate!();
    }
    let o = i % outputs;
    let kx = (i / outputs) % k;
    let ky = (i / (outputs * k)) % k;
    let c = i / (outputs * k * k);
    if flipped {
        out[i] = weight[((c * outputs + o) * k + (k - 1 - ky)) * k + (k - 1 - kx)];
    } else {
        out[i] = weight[((o * channels + c) * k + ky) * k + kx];
    }
}

/// One row of `x` for a row of four outputs: the quad under them and the quads either side,
/// as 12 values from `xv[0]` (the output row's first pixel at `xv[4]`), zero past the image's
/// edges and the whole row zero when `inside` is false (`row_start` must still lie inside
/// `x`). Every read happens and the edges are masked after: no branch for SwiftShader to
/// split its lanes on.
#[cube]
fn conv_row(x: &[Quad], xv: &mut Array<f32>, row_start: usize, qx: usize, row_quads: usize, inside: bool) {
    let prev = x[row_start + max(qx, 1) - 1];
    let cur = x[row_start + qx];
    let next = x[row_start + min(qx + 1, row_quads - 1)];
    let has_prev = inside && qx > 0;
    let has_next = inside && qx + 1 < row_quads;
    #[unroll]
    for t in 0..4 {
        xv[t] = select(has_prev, prev.extract(t), 0.0);
        xv[t + 4] = select(inside, cur.extract(t), 0.0);
        xv[t + 8] = select(has_next, next.extract(t), 0.0);
    }
}

/// The image row `yy - pad` of a kernel row at `yy` (offset by the padding), and whether it
/// lies inside the image; outside, row 0 stands in (read, then masked).
#[cube]
fn conv_source_row(yy: usize, height: usize, #[comptime] pad: usize) -> (usize, bool) {
    let inside = yy >= pad && yy < height + pad;
    (select(inside, yy, pad) - pad, inside)
}

/// [`conv_kernel`] reading quads, for widths and output counts that are multiples of four: a
/// unit computes 8 output channels (two quads of the weights repacked by
/// [`conv_repack_kernel`]) by a row of 4 pixels (one quad of `x`), and per input channel and
/// kernel row reads 3 quads of `x` and `2·k` of weights for `32·k` multiply-adds; it writes
/// its outputs as 8 quads.
#[cube(launch_unchecked)]
fn conv_quads_kernel(
    x: &[Quad],
    weight: &[Quad],
    bias: &[f32],
    out: &mut [Quad],
    batch: usize,
    channels: usize,
    outputs: usize,
    height: usize,
    width: usize,
    #[comptime] k: usize,
    #[comptime] whole_planes: bool,
    #[comptime] with_bias: bool,
    #[comptime] relu: bool,
) {
    // With `whole_planes` (2×2 images) a quad is a whole image: one row of quads of one.
    let row_quads = select(whole_planes, 1, width / 4);
    let plane_quads = select(whole_planes, 1, height * row_quads);
    let pixel_quads = batch * plane_quads;
    let groups = outputs.div_ceil(CONV_QUAD_OUTPUTS);
    let unit = ABSOLUTE_POS;
    if unit >= pixel_quads * groups {
        terminate!();
    }
    let pad = comptime!(k / 2);
    let pq = unit % pixel_quads;
    let o0 = (unit / pixel_quads) * CONV_QUAD_OUTPUTS;
    let n = pq / plane_quads;
    let py = (pq % plane_quads) / row_quads;
    let qx = pq % row_quads;
    let output_quads = outputs / 4;
    let first = o0 / 4;
    let second = min(first + 1, output_quads - 1);
    let mut acc = Array::<f32>::new(comptime!(CONV_QUAD_OUTPUTS * 4));
    #[unroll]
    for i in 0..comptime!(CONV_QUAD_OUTPUTS * 4) {
        acc[i] = 0.0;
    }
    let mut xv = Array::<f32>::new(12usize);
    let mut wv = Array::<f32>::new(CONV_QUAD_OUTPUTS);
    for c in 0..channels {
        let image = (n * channels + c) * plane_quads;
        if whole_planes {
            spread(x[image], &mut xv, 0usize);
        }
        #[unroll]
        for ky in 0..k {
            if !whole_planes {
                let (row, inside) = conv_source_row(py + ky, height, pad);
                conv_row(x, &mut xv, image + row * row_quads, qx, row_quads, inside);
            }
            #[unroll]
            for kx in 0..k {
                let at = ((c * k + ky) * k + kx) * output_quads;
                spread(weight[at + first], &mut wv, 0usize);
                spread(weight[at + second], &mut wv, 4usize);
                #[unroll]
                for j in 0..CONV_QUAD_OUTPUTS {
                    #[unroll]
                    for i in 0..4 {
                        // Taps in the padding add nothing and are left out as the kernel expands.
                        if comptime!(tap(i, ky, kx, pad, whole_planes).is_some()) {
                            acc[j * 4 + i] +=
                                wv[j] * xv[comptime!(tap(i, ky, kx, pad, whole_planes).unwrap())];
                        }
                    }
                }
            }
        }
    }
    #[unroll]
    for j in 0..CONV_QUAD_OUTPUTS {
        if o0 + j < outputs {
            let mut shift = 0.0f32;
            if with_bias {
                shift = bias[o0 + j];
            }
            let mut value = Quad::empty();
            #[unroll]
            for i in 0..4 {
                value.insert(i, activate(acc[j * 4 + i], shift, with_bias, relu));
            }
            out[(n * outputs + o0 + j) * plane_quads + py * row_quads + qx] = value;
        }
    }
}

/// [`conv_weight_grad_kernel`] reading quads, for widths and output counts that are multiples
/// of four: a unit sums the gradients of 16 output channels by one input channel's whole
/// `k×k` window over the images of its split, 4 pixels at a time: 16 quads of `grad` and
/// `3·k` of `x` for `64·k²` multiply-adds.
#[cube(launch_unchecked)]
fn conv_weight_grad_quads_kernel(
    x: &[Quad],
    grad: &[Quad],
    out: &mut [f32],
    batch: usize,
    channels: usize,
    outputs: usize,
    height: usize,
    width: usize,
    images: usize,
    #[comptime] k: usize,
    #[comptime] whole_planes: bool,
) {
    // With `whole_planes` (2×2 images) a quad is a whole image, as in the forward kernel.
    let row_quads = select(whole_planes, 1, width / 4);
    let plane_quads = select(whole_planes, 1, height * row_quads);
    let rows = select(whole_planes, 1, height);
    let groups = outputs.div_ceil(CONV_GRAD_OUTPUTS);
    let unit = ABSOLUTE_POS_X as usize;
    let split = ABSOLUTE_POS_Z as usize;
    if unit >= channels * groups {
        terminate!();
    }
    let pad = comptime!(k / 2);
    let c = unit % channels;
    let o0 = (unit / channels) * CONV_GRAD_OUTPUTS;
    let mut o = Array::<usize>::new(CONV_GRAD_OUTPUTS);
    #[unroll]
    for j in 0..CONV_GRAD_OUTPUTS {
        o[j] = min(o0 + j, outputs - 1);
    }
    let mut acc = Array::<f32>::new(comptime!(CONV_GRAD_OUTPUTS * k * k));
    #[unroll]
    for i in 0..comptime!(CONV_GRAD_OUTPUTS * k * k) {
        acc[i] = 0.0;
    }
    let mut xv = Array::<f32>::new(12usize);
    let mut gv = Array::<f32>::new(comptime!(CONV_GRAD_OUTPUTS * 4));
    let first = split * images;
    let last = min(first + images, batch);
    for n in first..last {
        let image = (n * channels + c) * plane_quads;
        for y in 0..rows {
            for qx in 0..row_quads {
                #[unroll]
                for j in 0..CONV_GRAD_OUTPUTS {
                    spread(
                        grad[(n * outputs + o[j]) * plane_quads + y * row_quads + qx],
                        &mut gv,
                        j * 4,
                    );
                }
                if whole_planes {
                    spread(x[image], &mut xv, 0usize);
                }
                #[unroll]
                for ky in 0..k {
                    if !whole_planes {
                        let (row, inside) = conv_source_row(y + ky, height, pad);
                        conv_row(x, &mut xv, image + row * row_quads, qx, row_quads, inside);
                    }
                    #[unroll]
                    for j in 0..CONV_GRAD_OUTPUTS {
                        #[unroll]
                        for kx in 0..k {
                            #[unroll]
                            for i in 0..4 {
                                if comptime!(tap(i, ky, kx, pad, whole_planes).is_some()) {
                                    acc[(j * k + ky) * k + kx] += gv[j * 4 + i]
                                        * xv[comptime!(tap(i, ky, kx, pad, whole_planes).unwrap())];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let cols = channels * k * k;
    #[unroll]
    for j in 0..CONV_GRAD_OUTPUTS {
        if o0 + j < outputs {
            #[unroll]
            for w in 0..comptime!(k * k) {
                out[(split * outputs + o0 + j) * cols + c * k * k + w] = acc[j * k * k + w];
            }
        }
    }
}

/// Where output pixel `i` (0..4) of a unit finds its input at kernel offset `(ky, kx)` among the
/// values [`conv_row`] spread (`xv[4 + i + kx − pad]`, the row's own quad from `xv[4]`), or for
/// a 2×2 image (`whole_planes`) among its four pixels: none when that falls in the padding.
/// Resolved as the kernel expands.
fn tap(i: usize, ky: usize, kx: usize, pad: usize, whole_planes: bool) -> Option<usize> {
    if !whole_planes {
        return Some(4 + i + kx - pad);
    }
    let (sy, sx) = (i / 2 + ky, i % 2 + kx);
    let inside = sy >= pad && sy < 2 + pad && sx >= pad && sx < 2 + pad;
    inside.then(|| (sy - pad) * 2 + sx - pad)
}

/// Whether the quad convolutions take this shape: rows of whole quads (or 2×2 images, a quad
/// each), output channels in whole quads, and a kernel whose reach stays within a quad either
/// side; if so, whether a quad is a whole image.
fn conv_quads_fit(height: usize, width: usize, outputs: usize, k: usize) -> Option<bool> {
    let whole_planes = height == 2 && width == 2;
    let rows_of_quads = width > 0 && width.is_multiple_of(4);
    ((rows_of_quads || whole_planes) && outputs.is_multiple_of(4) && k <= CONV_QUAD_MAX_KERNEL)
        .then_some(whole_planes)
}

/// The weights repacked for [`conv_quads_kernel`] (see [`conv_repack_kernel`]).
fn repack_conv_weight(
    weight: CubeTensor,
    channels: usize,
    outputs: usize,
    k: usize,
    flipped: bool,
) -> CubeTensor {
    let out = empty_f32(&weight, Shape::new([channels * k * k * outputs]));
    // Safety: one unit per output value, each reading one weight inside the tensor.
    unsafe {
        conv_repack_kernel::launch_unchecked(
            &out.client,
            elementwise_count(channels * k * k * outputs, ELEMENTWISE_GROUP),
            CubeDim::new_1d(ELEMENTWISE_GROUP),
            weight.into_buffer_arg(),
            out.clone().into_buffer_arg(),
            channels,
            outputs,
            k,
            flipped,
        );
    }
    out
}

/// Index (0..4) of the window's winner, the CPU kernel's rule (`pool::winner`): a later value
/// wins only when greater, or NaN where the best so far is not.
#[cube]
fn pool_winner(a: f32, b: f32, c: f32, d: f32) -> usize {
    let mut best = a;
    let mut at = 0usize;
    if !(best != best) && (b > best || b != b) {
        best = b;
        at = 1;
    }
    if !(best != best) && (c > best || c != c) {
        best = c;
        at = 2;
    }
    if !(best != best) && (d > best || d != d) {
        at = 3;
    }
    at
}

/// One output of 2×2 max pooling over `planes` planes of `h×w` (`h`, `w` even).
#[cube(launch_unchecked)]
fn pool_kernel(x: &[f32], out: &mut [f32], outputs: usize, width: usize) {
    let index = ABSOLUTE_POS;
    if index >= outputs {
        terminate!();
    }
    let half = width / 2;
    let row = index / half; // plane · h/2 + output row
    let top = row * 2 * width + (index % half) * 2;
    let (a, b, c, d) = (x[top], x[top + 1], x[top + width], x[top + width + 1]);
    let at = pool_winner(a, b, c, d);
    let mut best = a;
    if at == 1 {
        best = b;
    } else if at == 2 {
        best = c;
    } else if at == 3 {
        best = d;
    }
    out[index] = best;
}

/// One input element's gradient: its window's output gradient if it is the window's winner.
#[cube(launch_unchecked)]
fn pool_grad_kernel(x: &[f32], grad: &[f32], out: &mut [f32], inputs: usize, width: usize) {
    let index = ABSOLUTE_POS;
    if index >= inputs {
        terminate!();
    }
    let row = index / width; // plane · h + input row
    let col = index % width;
    let top = (row - row % 2) * width + col - col % 2;
    let at = pool_winner(x[top], x[top + 1], x[top + width], x[top + width + 1]);
    let mine = (row % 2) * 2 + col % 2;
    let mut value = 0.0f32;
    if at == mine {
        value = grad[(row / 2) * (width / 2) + col / 2];
    }
    out[index] = value;
}

/// Units of the loss kernel's one workgroup; each takes every 64th row.
const LOSS_GROUP: usize = 64;

/// [`GpuKernels::cross_entropy`] in one workgroup: each unit takes every [`LOSS_GROUP`]th
/// row (log-sum-exp from the row's maximum, the row's loss, its gradient
/// `(softmax − one_hot) / rows`), then the first unit sums the units' losses. `missing` is the
/// loss of a row whose label is not a class: +∞, passed in because WGSL may fold a literal
/// 1/0 to zero.
#[cube(launch_unchecked)]
fn cross_entropy_kernel(
    logits: &[f32],
    labels: &[f32],
    loss: &mut [f32],
    gradient: &mut [f32],
    rows: usize,
    classes: usize,
    missing: f32,
) {
    let unit = UNIT_POS as usize;
    let count = f32::cast_from(rows as u32);
    let mut total = 0.0f32;
    let mut row = unit;
    while row < rows {
        let base = row * classes;
        // A NaN anywhere in the row makes the sum below NaN.
        let mut max = logits[base];
        for j in 1..classes {
            let v = logits[base + j];
            if v > max {
                max = v;
            }
        }
        let mut sum = 0.0f32;
        for j in 0..classes {
            sum += (logits[base + j] - max).exp();
        }
        let log_sum = max + sum.ln();
        let label = labels[row];
        let mut target = classes;
        if label >= 0.0 && label < f32::cast_from(classes as u32) && label == label.floor() {
            target = u32::cast_from(label) as usize;
            total += log_sum - logits[base + target];
        } else {
            total += missing;
        }
        for j in 0..classes {
            let mut p = (logits[base + j] - log_sum).exp();
            if j == target {
                p -= 1.0;
            }
            gradient[base + j] = p / count;
        }
        row += LOSS_GROUP;
    }
    let sum = sum_over_units(total, LOSS_GROUP);
    if unit == 0 {
        loss[0] = sum / count;
    }
}

/// The sum of every unit's `total` over a workgroup of `group` units, in unit order (the same
/// bits every run), for unit 0; the others get 0. A barrier: every unit calls it.
#[cube]
fn sum_over_units(total: f32, #[comptime] group: usize) -> f32 {
    let unit = UNIT_POS as usize;
    let mut partial = Shared::<[f32]>::new_slice(group);
    partial[unit] = total;
    sync_cube();
    let mut sum = 0.0f32;
    if unit == 0 {
        for i in 0..group {
            sum += partial[i];
        }
    }
    sum
}

/// One column of [`GpuKernels::dense_output_grads`]: down the rows, the gradient where the
/// ReLU output was positive or NaN (the CPU's `dense::relu_mask`), and its sum. Adjacent units
/// read adjacent columns, so a row's reads are contiguous across a workgroup.
#[cube(launch_unchecked)]
fn dense_output_grads_kernel(
    out: &[f32],
    grad: &[f32],
    masked: &mut [f32],
    bias_grad: &mut [f32],
    rows: usize,
    cols: usize,
    #[comptime] relu: bool,
) {
    let col = ABSOLUTE_POS;
    if col >= cols {
        terminate!();
    }
    let mut sum = 0.0f32;
    let mut at = col;
    for _ in 0..rows {
        let mut g = grad[at];
        if relu {
            g = select(relu_keeps(out[at]), g, 0.0);
        }
        masked[at] = g;
        sum += g;
        at += cols;
    }
    bias_grad[col] = sum;
}

/// Units per workgroup of the dense output-gradient kernel (one per column).
const COLUMN_GROUP: u32 = 64;

/// Units per workgroup of [`conv_bias_grad_kernel`] (a workgroup a channel).
const CHANNEL_GROUP: usize = 64;

/// [`GpuKernels::conv_bias_grad`], a workgroup per output channel: each unit sums every
/// [`CHANNEL_GROUP`]th pixel of the channel's maps, image by image, then the first unit sums
/// the units' sums in their order (the same bits every run). Where burn summed three axes.
#[cube(launch_unchecked)]
fn conv_bias_grad_kernel(grad: &[f32], bias_grad: &mut [f32], batch: usize, outputs: usize, plane: usize) {
    let channel = CUBE_POS_X as usize;
    let unit = UNIT_POS as usize;
    let mut total = 0.0f32;
    for image in 0..batch {
        let base = (image * outputs + channel) * plane;
        let mut pixel = unit;
        while pixel < plane {
            total += grad[base + pixel];
            pixel += CHANNEL_GROUP;
        }
    }
    let sum = sum_over_units(total, CHANNEL_GROUP);
    if unit == 0 {
        bias_grad[channel] = sum;
    }
}

/// Sums `partial: [splits, len]` over its splits into `out: [len]`, split by split.
#[cube(launch_unchecked)]
fn sum_splits_kernel(partial: &[f32], out: &mut [f32], splits: usize, len: usize) {
    let j = ABSOLUTE_POS;
    if j >= len {
        terminate!();
    }
    let mut sum = 0.0f32;
    let mut at = j;
    for _ in 0..splits {
        sum += partial[at];
        at += len;
    }
    out[j] = sum;
}

/// [`sum_splits_kernel`] of `partial: [splits, len]` into `out` (`len` floats, contiguous).
fn sum_splits(partial: CubeTensor, out: CubeTensor) -> CubeTensor {
    let dims = partial.meta.shape().to_vec();
    let (splits, len) = (dims[0], dims[1]);
    assert!(
        out.meta.shape().num_elements() == len && out.is_contiguous(),
        "the sum has a partial's length"
    );
    if len > 0 {
        // Safety: each unit reads its column of `partial` and writes its own float.
        unsafe {
            sum_splits_kernel::launch_unchecked(
                &out.client,
                elementwise_count(len, ELEMENTWISE_GROUP),
                CubeDim::new_1d(ELEMENTWISE_GROUP),
                partial.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                splits,
                len,
            );
        }
    }
    out
}

/// [`GpuKernels::sgd_step`] over `N` floats a unit (quads where the tensor holds whole ones),
/// in the order of the CPU's one-pass update: `g + value·decay`, then `b·momentum + g`, then
/// `value − b·lr`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn sgd_kernel<N: Size>(
    value: &[Vector<f32, N>],
    grad: &[Vector<f32, N>],
    buffer: &[Vector<f32, N>],
    new_value: &mut [Vector<f32, N>],
    new_buffer: &mut [Vector<f32, N>],
    units: usize,
    decayed_units: usize,
    momentum: f32,
    decay: f32,
    lr: f32,
    #[comptime] first: bool,
    #[comptime] decays: bool,
) {
    let i = ABSOLUTE_POS;
    if i >= units {
        terminate!();
    }
    let theta = value[i];
    let mut g = grad[i];
    if decays {
        // A branch, not a select: the floats past `decayed_units` keep their bits exactly.
        if i < decayed_units {
            g += theta * Vector::new(decay);
        }
    }
    let mut b = g;
    if !first {
        b = buffer[i] * Vector::new(momentum) + g;
    }
    new_buffer[i] = b;
    new_value[i] = theta - b * Vector::new(lr);
}

/// A new contiguous f32 tensor of `shape` on `beside`'s device (every kernel's output).
fn empty_f32(beside: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_contiguous_dtype(beside.client.clone(), beside.device.clone(), shape, DType::F32)
}

/// Units per workgroup of the element-wise kernels.
const ELEMENTWISE_GROUP: u32 = 256;

fn elementwise_count(n: usize, group: u32) -> CubeCount {
    let groups = n.div_ceil(group as usize) as u32;
    // At most 65535 workgroups along an axis: the rest along y (the kernels use ABSOLUTE_POS).
    if groups <= 65_535 {
        CubeCount::Static(groups, 1, 1)
    } else {
        CubeCount::Static(65_535, groups.div_ceil(65_535), 1)
    }
}

/// Sizes of a "same" convolution: `[batch, channels, h, w]` and `[outputs, channels, k, k]`.
fn conv_dims(x: &CubeTensor, weight: &CubeTensor) -> [usize; 6] {
    let (xd, wd) = (x.meta.shape(), weight.meta.shape());
    assert!(
        xd.num_dims() == 4 && wd.num_dims() == 4,
        "a convolution takes 4-D tensors"
    );
    assert!(
        x.dtype == DType::F32 && weight.dtype == DType::F32,
        "the convolution takes f32"
    );
    assert!(
        wd[2] == wd[3] && wd[2] % 2 == 1,
        "a same convolution has an odd square kernel"
    );
    [xd[0], xd[1], xd[2], xd[3], wd[0], wd[2]]
}

/// Launches the convolution kernel: `x: [batch, channels, h, w]` to
/// `[batch, outputs, h, w]`; `weight` is read as `[outputs, channels, k, k]`, or when
/// `flipped` as `[channels, outputs, k, k]` rotated.
#[allow(clippy::too_many_arguments)]
fn launch_conv(
    x: CubeTensor,
    weight: CubeTensor,
    bias: Option<CubeTensor>,
    [batch, channels, height, width]: [usize; 4],
    outputs: usize,
    k: usize,
    flipped: bool,
    relu: bool,
) -> CubeTensor {
    let (x, weight) = (into_contiguous(x), into_contiguous(weight));
    let shape = Shape::new([batch, outputs, height, width]);
    let out = empty_f32(&x, shape);
    let pixels = batch * height * width;
    if pixels == 0 || outputs == 0 {
        return out;
    }
    let with_bias = bias.is_some();
    let bias = bias.map(into_contiguous).unwrap_or_else(|| weight.clone());
    if let Some(whole_planes) = conv_quads_fit(height, width, outputs, k) {
        let weight = repack_conv_weight(weight, channels, outputs, k, flipped);
        let units = pixels / 4 * outputs.div_ceil(CONV_QUAD_OUTPUTS);
        // Safety: reads are clamped inside the tensors or skipped outside the image, and writes
        // are checked against the output channels; the quad buffers' lengths are their sizes
        // over four.
        unsafe {
            conv_quads_kernel::launch_unchecked(
                &out.client,
                elementwise_count(units, CONV_QUAD_GROUP),
                CubeDim::new_1d(CONV_QUAD_GROUP),
                quads_arg(x),
                quads_arg(weight),
                bias.into_buffer_arg(),
                quads_arg(out.clone()),
                batch,
                channels,
                outputs,
                height,
                width,
                k,
                whole_planes,
                with_bias,
                relu,
            );
        }
        return out;
    }
    let units = |n: usize| n.div_ceil(BLOCK) as u32;
    let count = CubeCount::Static(units(pixels).div_ceil(GROUP), units(outputs).div_ceil(GROUP), 1);
    // Safety: reads are clamped inside the tensors or skipped outside the image, and writes
    // are checked against the output's size.
    unsafe {
        conv_kernel::launch_unchecked(
            &out.client,
            count,
            CubeDim::new_2d(GROUP, GROUP),
            x.into_buffer_arg(),
            weight.into_buffer_arg(),
            bias.into_buffer_arg(),
            out.clone().into_buffer_arg(),
            batch,
            channels,
            outputs,
            height,
            width,
            k,
            flipped,
            with_bias,
            relu,
        );
    }
    out
}

/// Launches the product kernel; `bias` is read only when `with_bias`.
fn launch_product(
    a: CubeTensor,
    b: CubeTensor,
    bias: Option<CubeTensor>,
    transpose_a: bool,
    transpose_b: bool,
    relu: bool,
) -> CubeTensor {
    let (a_dims, b_dims) = (a.meta.shape(), b.meta.shape());
    assert!(
        a_dims.num_dims() == 2 && b_dims.num_dims() == 2,
        "the product takes matrices"
    );
    let out = empty_f32(&a, product_shape(a_dims, b_dims, &transpose_a, &transpose_b));
    launch_product_into(a, b, bias, transpose_a, transpose_b, relu, out)
}

/// [`launch_product`] into `out`, a contiguous f32 `[rows, cols]` (which may be a view).
fn launch_product_into(
    a: CubeTensor,
    b: CubeTensor,
    bias: Option<CubeTensor>,
    transpose_a: bool,
    transpose_b: bool,
    relu: bool,
    out: CubeTensor,
) -> CubeTensor {
    let (a, b) = (into_contiguous(a), into_contiguous(b));
    let (a_dims, b_dims) = (a.meta.shape().to_vec(), b.meta.shape().to_vec());
    assert!(
        a_dims.len() == 2 && b_dims.len() == 2,
        "the product takes matrices"
    );
    assert!(
        a.dtype == DType::F32 && b.dtype == DType::F32,
        "the product takes f32"
    );
    let (rows, depth) = if transpose_a {
        (a_dims[1], a_dims[0])
    } else {
        (a_dims[0], a_dims[1])
    };
    let (b_depth, cols) = if transpose_b {
        (b_dims[1], b_dims[0])
    } else {
        (b_dims[0], b_dims[1])
    };
    assert_eq!(
        depth, b_depth,
        "the product's operands disagree on their inner size"
    );
    assert!(
        out.meta.shape().to_vec() == [rows, cols] && out.is_contiguous(),
        "a product's output is a contiguous [rows, cols]"
    );
    if rows == 0 || cols == 0 {
        return out;
    }
    let with_bias = bias.is_some();
    // Without a bias the kernel never reads its buffer: `a` stands in.
    let bias = bias.map(into_contiguous).unwrap_or_else(|| a.clone());
    let quads = quads_fit(rows, cols, depth, transpose_a, transpose_b);
    // The weight gradient's kernels take a depth in whole quads unless told of a tail.
    let depth_tail = transpose_a && !depth.is_multiple_of(4);
    if quads && shared_products() {
        let (across, down) = SHARED_GROUP;
        let count = CubeCount::Static(
            (cols.div_ceil(SHARED_COLS) as u32).div_ceil(across),
            (rows.div_ceil(SHARED_LANE_ROWS * SHARED_LANES) as u32).div_ceil(down),
            1,
        );
        // Safety: as below; every lane of a workgroup runs (edge lanes clamp their reads).
        unsafe {
            product_shared_kernel::launch_unchecked(
                &out.client,
                count,
                CubeDim::new_1d(across * down * SHARED_LANES as u32),
                quads_arg(a),
                quads_arg(b),
                bias.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                rows,
                cols,
                depth,
                transpose_a,
                transpose_b,
                with_bias,
                relu,
                depth_tail,
            );
        }
        return out;
    }
    if quads {
        let unit = product_unit();
        let (group_x, group_y) = unit.group;
        let count = CubeCount::Static(
            (cols.div_ceil(unit.cols) as u32).div_ceil(group_x),
            (rows.div_ceil(unit.rows) as u32).div_ceil(group_y),
            1,
        );
        // Safety: as below; the quad buffers' lengths are their sizes over four.
        unsafe {
            product_quads_kernel::launch_unchecked(
                &out.client,
                count,
                CubeDim::new_2d(group_x, group_y),
                quads_arg(a),
                quads_arg(b),
                bias.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                rows,
                cols,
                depth,
                transpose_a,
                transpose_b,
                with_bias,
                relu,
                unit.rows,
                unit.cols,
                depth_tail,
            );
        }
        return out;
    }
    let block = if rows * cols * depth <= SMALL_PRODUCT {
        SMALL_PRODUCT_BLOCK
    } else {
        PRODUCT_BLOCK
    };
    let units = |n: usize| n.div_ceil(block) as u32;
    let count = CubeCount::Static(units(cols).div_ceil(GROUP), units(rows).div_ceil(GROUP), 1);
    // Safety: every read and every write is clamped inside its buffer (`min` with the last row
    // and column).
    unsafe {
        product_kernel::launch_unchecked(
            &out.client,
            count,
            CubeDim::new_2d(GROUP, GROUP),
            a.into_buffer_arg(),
            b.into_buffer_arg(),
            bias.into_buffer_arg(),
            out.clone().into_buffer_arg(),
            rows,
            cols,
            depth,
            transpose_a,
            transpose_b,
            with_bias,
            relu,
            block,
        );
    }
    out
}

/// `[batch, c, h, w]` of a pooling input, checked.
fn pool_dims(x: &CubeTensor) -> [usize; 4] {
    let d = x.meta.shape();
    assert!(
        d.num_dims() == 4 && d[2].is_multiple_of(2) && d[3].is_multiple_of(2),
        "2×2 pooling takes even planes"
    );
    assert!(x.dtype == DType::F32, "the pooling takes f32");
    [d[0], d[1], d[2], d[3]]
}

impl GpuKernels for CubeBackend {
    fn max_pool_2x2(x: CubeTensor) -> CubeTensor {
        let [n, c, h, w] = pool_dims(&x);
        let x = into_contiguous(x);
        let shape = Shape::new([n, c, h / 2, w / 2]);
        let out = empty_f32(&x, shape);
        let outputs = n * c * (h / 2) * (w / 2);
        if outputs == 0 {
            return out;
        }
        // Safety: each unit reads its own window and writes its own output.
        unsafe {
            pool_kernel::launch_unchecked(
                &out.client,
                elementwise_count(outputs, ELEMENTWISE_GROUP),
                CubeDim::new_1d(ELEMENTWISE_GROUP),
                x.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                outputs,
                w,
            );
        }
        out
    }

    fn max_pool_2x2_grad(x: CubeTensor, grad: CubeTensor) -> CubeTensor {
        let [n, c, h, w] = pool_dims(&x);
        let (x, grad) = (into_contiguous(x), into_contiguous(grad));
        let out = empty_f32(&x, Shape::new([n, c, h, w]));
        let inputs = n * c * h * w;
        if inputs == 0 {
            return out;
        }
        // Safety: as the forward kernel.
        unsafe {
            pool_grad_kernel::launch_unchecked(
                &out.client,
                elementwise_count(inputs, ELEMENTWISE_GROUP),
                CubeDim::new_1d(ELEMENTWISE_GROUP),
                x.into_buffer_arg(),
                grad.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                inputs,
                w,
            );
        }
        out
    }

    fn dense(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, relu: bool) -> CubeTensor {
        launch_product(x, weight, Some(bias), false, false, relu)
    }

    fn product(a: CubeTensor, b: CubeTensor, transpose_a: bool, transpose_b: bool) -> CubeTensor {
        launch_product(a, b, None, transpose_a, transpose_b, false)
    }

    fn dense_weight_grad(x: CubeTensor, grad: CubeTensor, weight: CubeTensor) -> CubeTensor {
        let shape = Shape::new([x.meta.shape()[1], grad.meta.shape()[1]]);
        match flat::landing(&weight, &shape) {
            Some(home) => launch_product_into(x, grad, None, true, false, false, home),
            None => launch_product(x, grad, None, true, false, false),
        }
    }

    fn flat_view(flat: CubeTensor, offset: usize, len: usize) -> CubeTensor {
        flat::view(&flat, offset, Shape::new([len]))
    }

    fn gradient_home(params: CubeTensor) -> CubeTensor {
        flat::gradient_home(params)
    }

    fn release_gradient_home(params: CubeTensor) -> CubeTensor {
        flat::release_gradient_home(&params);
        params
    }

    fn place(flat: CubeTensor, part: CubeTensor, offset: usize) -> CubeTensor {
        flat::place(flat, part, offset)
    }

    fn conv_same(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, relu: bool) -> CubeTensor {
        let [n, c, h, w, o, k] = conv_dims(&x, &weight);
        launch_conv(x, weight, Some(bias), [n, c, h, w], o, k, false, relu)
    }

    fn conv_same_plain(x: CubeTensor, weight: CubeTensor) -> CubeTensor {
        let [n, c, h, w, o, k] = conv_dims(&x, &weight);
        launch_conv(x, weight, None, [n, c, h, w], o, k, false, false)
    }

    fn conv_same_input_grad(weight: CubeTensor, grad: CubeTensor) -> CubeTensor {
        // The gradient is a same convolution of `grad` (its channels the forward outputs) with
        // the kernel transposed and rotated.
        let [n, o, h, w, _, k] = conv_dims(&grad, &weight);
        let channels = weight.meta.shape()[1];
        launch_conv(grad, weight, None, [n, o, h, w], channels, k, true, false)
    }

    fn conv_same_weight_grad(x: CubeTensor, grad: CubeTensor, weight: CubeTensor) -> CubeTensor {
        let kernel = weight.meta.shape()[2];
        let (x, grad) = (into_contiguous(x), into_contiguous(grad));
        let (xd, gd) = (x.meta.shape().to_vec(), grad.meta.shape().to_vec());
        let [batch, channels, height, width] = [xd[0], xd[1], xd[2], xd[3]];
        let outputs = gd[1];
        let cols = channels * kernel * kernel;
        // Images per split: about 2048 summed pixels each (1024 for the quad kernel, whose
        // units are fewer), so that the small early weight gradients (few outputs, large
        // images) still spread over many workgroups.
        let quads = conv_quads_fit(height, width, outputs, kernel);
        let pixels_per_split = if quads.is_some() { 1024 } else { 2048 };
        let plane = (height * width).max(1);
        let images = pixels_per_split.div_ceil(plane).clamp(1, batch.max(1));
        let splits = batch.div_ceil(images).max(1);
        // One split writes the gradient itself (in the flat SGD's gradient home where there is
        // one); several are summed into it below.
        let partial_shape = Shape::new([splits, outputs * cols]);
        let partial = match splits {
            1 => flat::landing(&weight, &partial_shape),
            _ => None,
        }
        .unwrap_or_else(|| empty_f32(&x, partial_shape));
        if let Some(whole_planes) = quads {
            let units = channels * outputs.div_ceil(CONV_GRAD_OUTPUTS);
            let count = CubeCount::Static((units as u32).div_ceil(CONV_QUAD_GROUP), 1, splits as u32);
            // Safety: as the forward quad kernel.
            unsafe {
                conv_weight_grad_quads_kernel::launch_unchecked(
                    &partial.client,
                    count,
                    CubeDim::new_1d(CONV_QUAD_GROUP),
                    quads_arg(x),
                    quads_arg(grad),
                    partial.clone().into_buffer_arg(),
                    batch,
                    channels,
                    outputs,
                    height,
                    width,
                    images,
                    kernel,
                    whole_planes,
                );
            }
        } else {
            let units = |n: usize| n.div_ceil(BLOCK) as u32;
            let count = CubeCount::Static(
                units(cols).div_ceil(GROUP),
                units(outputs).div_ceil(GROUP),
                splits as u32,
            );
            // Safety: as the forward kernel.
            unsafe {
                conv_weight_grad_kernel::launch_unchecked(
                    &partial.client,
                    count,
                    CubeDim::new_2d(GROUP, GROUP),
                    x.into_buffer_arg(),
                    grad.into_buffer_arg(),
                    partial.clone().into_buffer_arg(),
                    batch,
                    channels,
                    outputs,
                    height,
                    width,
                    images,
                    kernel,
                );
            }
        }
        let summed = if splits == 1 {
            partial
        } else {
            let shape = Shape::new([outputs * cols]);
            let out = flat::landing(&weight, &shape).unwrap_or_else(|| empty_f32(&partial, shape));
            sum_splits(partial, out)
        };
        Self::float_reshape(summed, Shape::new([outputs, channels, kernel, kernel]))
    }

    fn conv_bias_grad(grad: CubeTensor, bias: CubeTensor) -> CubeTensor {
        let grad = into_contiguous(grad);
        let dims = grad.meta.shape().to_vec();
        assert!(
            dims.len() == 4 && grad.dtype == DType::F32,
            "a convolution's gradient is f32 [batch, outputs, h, w]"
        );
        let [batch, outputs, plane] = [dims[0], dims[1], dims[2] * dims[3]];
        let shape = Shape::new([outputs]);
        let out = flat::landing(&bias, &shape).unwrap_or_else(|| empty_f32(&grad, shape));
        if outputs == 0 {
            return out;
        }
        // Safety: a workgroup reads its channel's values inside `grad` and writes its one sum.
        unsafe {
            conv_bias_grad_kernel::launch_unchecked(
                &out.client,
                CubeCount::Static(outputs as u32, 1, 1),
                CubeDim::new_1d(CHANNEL_GROUP as u32),
                grad.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                batch,
                outputs,
                plane,
            );
        }
        out
    }

    fn cross_entropy(logits: CubeTensor, labels: CubeTensor) -> (CubeTensor, CubeTensor) {
        let (logits, labels) = (into_contiguous(logits), into_contiguous(labels));
        let dims = logits.meta.shape().to_vec();
        assert!(
            dims.len() == 2 && logits.dtype == DType::F32 && labels.dtype == DType::F32,
            "the loss takes f32 logits [rows, classes] and f32 labels"
        );
        let [rows, classes] = [dims[0], dims[1]];
        assert_eq!(labels.meta.shape().num_elements(), rows, "one label a row");
        let (loss, gradient) = (
            empty_f32(&logits, Shape::new([1])),
            empty_f32(&logits, Shape::new([rows, classes])),
        );
        // Safety: the one workgroup's units read and write only their own rows, the first
        // unit reads the shared sums after the barrier and writes the loss.
        unsafe {
            cross_entropy_kernel::launch_unchecked(
                &loss.client,
                CubeCount::Static(1, 1, 1),
                CubeDim::new_1d(LOSS_GROUP as u32),
                logits.into_buffer_arg(),
                labels.into_buffer_arg(),
                loss.clone().into_buffer_arg(),
                gradient.clone().into_buffer_arg(),
                rows,
                classes.max(1),
                f32::INFINITY,
            );
        }
        (loss, gradient)
    }

    fn dense_output_grads(
        out: CubeTensor,
        grad: CubeTensor,
        bias: CubeTensor,
        relu: bool,
    ) -> (CubeTensor, CubeTensor) {
        let grad = into_contiguous(grad);
        let dims = grad.meta.shape().to_vec();
        assert!(
            dims.len() == 2 && grad.dtype == DType::F32,
            "a dense gradient is f32 [rows, cols]"
        );
        let [rows, cols] = [dims[0], dims[1]];
        // Without the ReLU the kernel never reads `out`: the gradient stands in.
        let out = if relu { into_contiguous(out) } else { grad.clone() };
        let bias_shape = Shape::new([cols]);
        let (masked, bias_grad) = (
            empty_f32(&grad, Shape::new([rows, cols])),
            flat::landing(&bias, &bias_shape).unwrap_or_else(|| empty_f32(&grad, bias_shape)),
        );
        if cols == 0 {
            return (masked, bias_grad);
        }
        // Safety: each unit reads and writes its own column.
        unsafe {
            dense_output_grads_kernel::launch_unchecked(
                &masked.client,
                elementwise_count(cols, COLUMN_GROUP),
                CubeDim::new_1d(COLUMN_GROUP),
                out.into_buffer_arg(),
                grad.into_buffer_arg(),
                masked.clone().into_buffer_arg(),
                bias_grad.clone().into_buffer_arg(),
                rows,
                cols,
                relu,
            );
        }
        (masked, bias_grad)
    }

    fn sgd_step(
        value: CubeTensor,
        grad: CubeTensor,
        buffer: CubeTensor,
        decayed: usize,
        momentum: f32,
        decay: f32,
        lr: f32,
        first: bool,
    ) -> (CubeTensor, CubeTensor) {
        let (value, grad) = (into_contiguous(value), into_contiguous(grad));
        // On the first step the kernel never reads the buffer: the gradient stands in.
        let buffer = if first {
            grad.clone()
        } else {
            into_contiguous(buffer)
        };
        assert!(
            [&value, &grad, &buffer].iter().all(|t| t.dtype == DType::F32),
            "the optimizer takes f32"
        );
        let len = value.meta.shape().num_elements();
        assert!(
            grad.meta.shape().num_elements() == len && buffer.meta.shape().num_elements() == len,
            "a value, its gradient and its buffer have one size"
        );
        let shape = Shape::from(value.meta.shape().to_vec());
        let (new_value, new_buffer) = (empty_f32(&value, shape.clone()), empty_f32(&value, shape));
        if len == 0 {
            return (new_value, new_buffer);
        }
        let decays = decay != 0.0;
        // Safety: each unit reads and writes its own quad (or float).
        unsafe {
            if len.is_multiple_of(4) {
                sgd_kernel::launch_unchecked(
                    &new_value.client,
                    elementwise_count(len / 4, ELEMENTWISE_GROUP),
                    CubeDim::new_1d(ELEMENTWISE_GROUP),
                    4,
                    quads_arg(value),
                    quads_arg(grad),
                    quads_arg(buffer),
                    quads_arg(new_value.clone()),
                    quads_arg(new_buffer.clone()),
                    len / 4,
                    decayed.min(len).div_ceil(4),
                    momentum,
                    decay,
                    lr,
                    first,
                    decays,
                );
            } else {
                sgd_kernel::launch_unchecked(
                    &new_value.client,
                    elementwise_count(len, ELEMENTWISE_GROUP),
                    CubeDim::new_1d(ELEMENTWISE_GROUP),
                    1,
                    value.into_buffer_arg(),
                    grad.into_buffer_arg(),
                    buffer.into_buffer_arg(),
                    new_value.clone().into_buffer_arg(),
                    new_buffer.clone().into_buffer_arg(),
                    len,
                    decayed.min(len),
                    momentum,
                    decay,
                    lr,
                    first,
                    decays,
                );
            }
        }
        (new_value, new_buffer)
    }
}

/// The WebGPU kernels' dense gradients: the ReLU mask and bias gradient in one pass
/// ([`GpuKernels::dense_output_grads`]), and both products through [`GpuKernels::product`]
/// reading an operand transposed.
#[derive(Debug)]
struct GpuDense;

impl<B: GpuKernels> DenseGradients<B> for GpuDense {
    fn output_grads(
        relu_out: Option<FloatTensor<B>>,
        grad: FloatTensor<B>,
        bias: FloatTensor<B>,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        match relu_out {
            Some(out) => B::dense_output_grads(out, grad, bias, true),
            None => B::dense_output_grads(grad.clone(), grad, bias, false),
        }
    }
    fn input_grad(weight: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
        B::product(grad, weight, false, true) // [rows, inputs]
    }
    fn weight_grad(
        x: FloatTensor<B>,
        grad: FloatTensor<B>,
        weight: FloatTensor<B>,
        _bias_grad: FloatTensor<B>,
        _background: Option<f32>,
    ) -> FloatTensor<B> {
        B::dense_weight_grad(x, grad, weight) // [inputs, outputs]
    }
}

/// The convolution's saved input, weight, bias (for who it is: see `gradient_home`) and (after
/// a ReLU) output.
type ConvState<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    Option<FloatTensor<B>>,
);

/// The gradients of a "same" convolution's input and weight, those that are tracked.
fn conv_backward<B: GpuKernels>(
    grads: &mut Gradients,
    node_x: Option<NodeId>,
    node_weight: Option<NodeId>,
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
) {
    if let Some(id) = node_x {
        grads.register::<B>(id, B::conv_same_input_grad(weight.clone(), grad.clone()));
    }
    if let Some(id) = node_weight {
        grads.register::<B>(id, B::conv_same_weight_grad(x, grad, weight));
    }
}

#[derive(Debug)]
struct ConvSame;

impl<B: GpuKernels> Backward<B, 3> for ConvSame {
    type State = ConvState<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node); // [batch, outputs, h, w]
        let (x, weight, bias, relu_output) = ops.state;
        let grad = match relu_output {
            Some(out) => B::relu_backward(out, grad),
            None => grad,
        };
        if let Some(node) = node_bias {
            grads.register::<B>(node.id, B::conv_bias_grad(grad.clone(), bias));
        }
        conv_backward::<B>(
            grads,
            node_x.map(|n| n.id),
            node_weight.map(|n| n.id),
            x,
            weight,
            grad,
        );
    }
}

#[derive(Debug)]
struct ConvSamePlain;

impl<B: GpuKernels> Backward<B, 2> for ConvSamePlain {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, weight) = ops.state;
        conv_backward::<B>(
            grads,
            node_x.map(|n| n.id),
            node_weight.map(|n| n.id),
            x,
            weight,
            grad,
        );
    }
}

#[derive(Debug)]
struct MaxPool;

impl<B: GpuKernels> Backward<B, 1> for MaxPool {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_one::<B, _>(ops, grads, B::max_pool_2x2_grad);
    }
}

/// The loss's backward step: the gradient its kernel wrote, times the upstream scalar.
#[derive(Debug)]
struct CrossEntropy;

impl<B: GpuKernels> Backward<B, 1> for CrossEntropy {
    /// `[rows, classes]`
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        // `upstream: [1]`
        backward_one::<B, _>(ops, grads, |gradient, upstream| {
            B::float_mul(gradient, B::float_reshape(upstream, Shape::new([1, 1])))
        });
    }
}

impl<B: GpuKernels, C: CheckpointStrategy> GpuKernels for Autodiff<B, C> {
    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        record_dense::<_, B, C>(
            DenseBackward::<GpuDense>::new(),
            (x, weight, bias),
            relu,
            |x, weight, bias| (B::dense(x, weight, bias, relu), None),
        )
        .0
    }

    fn conv_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let prep = ConvSame
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
        let out = B::conv_same(
            x.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            relu,
        );
        let state = saved.map(|(x, weight, bias)| (x, weight, bias, relu.then(|| out.clone())));
        finish(prep, state, out)
    }

    fn conv_same_plain(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        let prep = ConvSamePlain
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful();
        let saved = is_tracked(&prep).then(|| (x.primitive().clone(), weight.primitive().clone()));
        let out = B::conv_same_plain(x.into_primitive(), weight.into_primitive());
        finish(prep, saved, out)
    }

    fn max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let prep = MaxPool.prepare::<C>([x.node()]).compute_bound().stateful();
        let saved = is_tracked(&prep).then(|| x.primitive().clone());
        let out = B::max_pool_2x2(x.into_primitive());
        finish(prep, saved, out)
    }

    // Called only inside backward passes, on the inner backend; not differentiable here.
    fn max_pool_2x2_grad(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::max_pool_2x2_grad(x.into_primitive(), grad.into_primitive()))
    }

    fn conv_same_input_grad(weight: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let out = B::conv_same_input_grad(weight.into_primitive(), grad.into_primitive());
        Self::from_inner(out)
    }

    fn conv_same_weight_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let out =
            B::conv_same_weight_grad(x.into_primitive(), grad.into_primitive(), weight.into_primitive());
        Self::from_inner(out)
    }

    // Called only inside backward passes, on the inner backend; not differentiable here.
    fn conv_bias_grad(grad: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::conv_bias_grad(grad.into_primitive(), bias.into_primitive()))
    }

    fn product(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        transpose_a: bool,
        transpose_b: bool,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::product(
            a.into_primitive(),
            b.into_primitive(),
            transpose_a,
            transpose_b,
        ))
    }

    fn cross_entropy(
        logits: FloatTensor<Self>,
        labels: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let prep = CrossEntropy
            .prepare::<C>([logits.node()])
            .compute_bound()
            .stateful();
        let (loss, gradient) = B::cross_entropy(logits.into_primitive(), labels.into_primitive());
        let state = is_tracked(&prep).then(|| gradient.clone());
        (finish(prep, state, loss), Self::from_inner(gradient))
    }

    // Called only inside backward passes, on the inner backend; not differentiable here.
    fn dense_output_grads(
        out: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (masked, bias) = B::dense_output_grads(
            out.into_primitive(),
            grad.into_primitive(),
            bias.into_primitive(),
            relu,
        );
        (Self::from_inner(masked), Self::from_inner(bias))
    }

    fn sgd_step(
        value: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        buffer: FloatTensor<Self>,
        decayed: usize,
        momentum: f32,
        decay: f32,
        lr: f32,
        first: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        on_values::<B, C>([value, grad, buffer], |[value, grad, buffer]| {
            B::sgd_step(value, grad, buffer, decayed, momentum, decay, lr, first)
        })
    }

    fn flat_view(flat: FloatTensor<Self>, offset: usize, len: usize) -> FloatTensor<Self> {
        Self::from_inner(B::flat_view(flat.into_primitive(), offset, len))
    }

    fn gradient_home(params: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::gradient_home(params.into_primitive()))
    }

    fn place(flat: FloatTensor<Self>, part: FloatTensor<Self>, offset: usize) -> FloatTensor<Self> {
        Self::from_inner(B::place(flat.into_primitive(), part.into_primitive(), offset))
    }

    fn release_gradient_home(params: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::release_gradient_home(params.into_primitive()))
    }

    // Called only inside backward passes, on the inner backend; not differentiable here.
    fn dense_weight_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let out = B::dense_weight_grad(x.into_primitive(), grad.into_primitive(), weight.into_primitive());
        Self::from_inner(out)
    }
}
