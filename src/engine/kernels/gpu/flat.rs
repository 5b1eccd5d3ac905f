//! The device side of the flat SGD (`optim::flat`): every parameter a view of one buffer, and
//! the dense and convolution layers' gradients written where the optimizer's one pass reads
//! them.
//!
//! burn's autodiff hands each parameter its own gradient buffer. Gathering them into one would
//! cost a copy pass each, as many passes as the per-tensor update it replaces. Instead, before a
//! backward pass the optimizer names a gradient home for its flat parameters
//! ([`gradient_home`]); a dense or convolution layer's gradient kernels then look up their
//! weight and bias ([`landing`]) and, when these are views of those parameters, write their
//! gradient at the same place in the home. The optimizer's [`place`] finds them there and
//! copies only the gradients that were made elsewhere (burn's, and the first step's).
//!
//! The home is looked up when a kernel runs, not when burn's fusion records it: a weight is
//! known by its buffer then, however many reshapes lie between it and the optimizer's view.

use super::{ELEMENTWISE_GROUP, elementwise_count, empty_f32, quads_arg};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::cubecl::zspace::metadata::Metadata;
use burn_cubecl::cubecl::zspace::striding::row_major_contiguous_strides;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use std::cell::RefCell;

/// Floats from one view's start to the next: WebGPU binds a buffer from a multiple of
/// `minStorageBufferOffsetAlignment` bytes, at most 256 on any adapter.
pub const FLAT_ALIGNMENT: usize = 64;

/// The flat parameters of the coming backward pass and the buffer their gradients go to.
struct Home {
    params: CubeTensor,
    grads: CubeTensor,
    /// Float offsets already written: a parameter used twice gets its second gradient in a
    /// buffer of its own (autodiff adds the two; [`place`] copies the sum).
    landed: Vec<usize>,
}

thread_local! {
    // Read and set while fusion runs its recorded operations, which it does on the thread that
    // records them (the page's worker; natively the caller's).
    static HOME: RefCell<Option<Home>> = const { RefCell::new(None) };
}

/// Whether `a` and `b` are views of one allocation.
fn same_memory(a: &CubeTensor, b: &CubeTensor) -> bool {
    std::ptr::eq(a.handle.memory.descriptor(), b.handle.memory.descriptor())
}

/// Where `part` starts in `whole`'s allocation, in bytes from `whole`'s start.
fn byte_offset(part: &CubeTensor, whole: &CubeTensor) -> Option<u64> {
    let (part_start, whole_start) = (
        part.handle.offset_start.unwrap_or(0),
        whole.handle.offset_start.unwrap_or(0),
    );
    (same_memory(part, whole) && part_start >= whole_start).then(|| part_start - whole_start)
}

/// The floats of the contiguous f32 `flat` from float `offset`, `shape`d, without a copy.
pub(super) fn view(flat: &CubeTensor, offset: usize, shape: Shape) -> CubeTensor {
    let len = shape.num_elements();
    let total = flat.meta.shape().num_elements();
    assert!(
        flat.is_contiguous() && flat.dtype == DType::F32 && offset + len <= total,
        "a view lies inside a contiguous f32 buffer"
    );
    assert!(
        offset.is_multiple_of(FLAT_ALIGNMENT),
        "a view starts where WebGPU can bind it"
    );
    let mut view = flat.clone();
    view.handle = view
        .handle
        .offset_start((offset * 4) as u64)
        .offset_end(((total - offset - len) * 4) as u64);
    view.meta = Box::new(Metadata::new(
        shape.clone(),
        row_major_contiguous_strides(shape.to_vec()),
    ));
    view
}

/// See [`GpuKernels::gradient_home`](super::GpuKernels::gradient_home).
pub(super) fn gradient_home(params: CubeTensor) -> CubeTensor {
    let grads = empty_f32(&params, params.meta.shape().clone());
    let home = Home {
        params,
        grads: grads.clone(),
        landed: Vec::new(),
    };
    HOME.with(|h| *h.borrow_mut() = Some(home));
    grads
}

/// See [`GpuKernels::release_gradient_home`](super::GpuKernels::release_gradient_home).
pub(super) fn release_gradient_home(params: &CubeTensor) {
    HOME.with(|h| {
        let mut h = h.borrow_mut();
        if h.as_ref().is_some_and(|home| same_memory(&home.params, params)) {
            *h = None;
        }
    });
}

/// Where the gradient of `param` (`shape`d) is to be written: its place in the gradient home
/// when `param` is a view of the home's parameters not written yet, else `None` (a buffer of
/// its own).
pub(super) fn landing(param: &CubeTensor, shape: &Shape) -> Option<CubeTensor> {
    HOME.with(|h| {
        let mut h = h.borrow_mut();
        let home = h.as_mut()?;
        let start = byte_offset(param, &home.params)?;
        let len = shape.num_elements();
        if !param.is_contiguous() || param.meta.shape().num_elements() != len || start % 4 != 0 {
            return None;
        }
        let offset = (start / 4) as usize;
        let fits =
            offset.is_multiple_of(FLAT_ALIGNMENT) && offset + len <= home.grads.meta.shape().num_elements();
        if !fits || home.landed.contains(&offset) {
            return None;
        }
        home.landed.push(offset);
        Some(view(&home.grads, offset, shape.clone()))
    })
}

/// Copies `from` into `to`, `units` of `N` floats.
#[cube(launch_unchecked)]
fn copy_kernel<N: Size>(from: &[Vector<f32, N>], to: &mut [Vector<f32, N>], units: usize) {
    let i = ABSOLUTE_POS;
    if i >= units {
        terminate!();
    }
    to[i] = from[i];
}

/// See [`GpuKernels::place`](super::GpuKernels::place).
pub(super) fn place(flat: CubeTensor, part: CubeTensor, offset: usize) -> CubeTensor {
    let len = part.meta.shape().num_elements();
    let there = part.is_contiguous()
        && byte_offset(&part, &flat) == Some((offset * 4) as u64)
        && part.handle.size_in_used() == (len * 4) as u64;
    if there || len == 0 {
        return flat;
    }
    assert!(part.dtype == DType::F32, "the flat SGD takes f32");
    let part = into_contiguous(part);
    let to = view(&flat, offset, Shape::new([len]));
    // Safety: each unit reads and writes its own quad (or float) of two buffers of `len`.
    unsafe {
        if len.is_multiple_of(4) {
            copy_kernel::launch_unchecked(
                &flat.client,
                elementwise_count(len / 4, ELEMENTWISE_GROUP),
                CubeDim::new_1d(ELEMENTWISE_GROUP),
                4,
                quads_arg(part),
                quads_arg(to),
                len / 4,
            );
        } else {
            copy_kernel::launch_unchecked(
                &flat.client,
                elementwise_count(len, ELEMENTWISE_GROUP),
                CubeDim::new_1d(ELEMENTWISE_GROUP),
                1,
                part.into_buffer_arg(),
                to.into_buffer_arg(),
                len,
            );
        }
    }
    flat
}
