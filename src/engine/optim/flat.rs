//! SGD on WebGPU over one flat buffer: every trainable tensor is a view of one parameter buffer,
//! its momentum a view of one buffer beside it, and a step is one pass over all of them where a
//! pass per tensor made eight for the FCN (and one per tensor of a CNN).
//!
//! The gradients must be flat too. Before each backward pass the optimizer names a gradient
//! home for its parameters (`kernels::gpu::GpuKernels::gradient_home`): the dense and
//! convolution layers' gradient kernels write there directly, and [`place`] copies in only what
//! was made elsewhere (by burn's operations, and everything on the first step, before a home
//! was named). The rule and its roundings are the per-tensor kernel's (`sgd_kernel`), so a run
//! is the same either way.

use crate::engine::kernels::gpu::{FLAT_ALIGNMENT, Family, GpuKernels};
use crate::engine::models::TensorSpec;
use burn::backend::Dispatch;
use burn::tensor::Tensor;

/// Whether `params` train on WebGPU with its SGD kernels and their flat form switched on.
pub(super) fn applies(params: &[Tensor<1>]) -> bool {
    let on = |family| crate::engine::kernels::gpu::enabled(family);
    params
        .first()
        .is_some_and(|p| !crate::engine::kernels::on_cpu(&p.device()))
        && on(Family::Sgd)
        && on(Family::FlatSgd)
}

/// A model's trainable tensors in the flat buffers, and the buffers.
pub(super) struct FlatSgd {
    /// Float offset of each tensor of the model (none for running statistics).
    offsets: Vec<Option<usize>>,
    lens: Vec<usize>,
    total: usize,
    /// The first floats, those of the tensors that take weight decay (the weights).
    decayed: usize,
    /// The parameters every trainable tensor is a view of (none before the first step).
    values: Option<Tensor<1>>,
    /// The momentum (none before the first step, and without momentum).
    buffer: Option<Tensor<1>>,
    /// Where the coming backward pass writes the dense and convolution layers' gradients.
    home: Option<Tensor<1>>,
}

impl FlatSgd {
    /// The layout of `specs`: the decaying tensors first, each from a multiple of
    /// [`FLAT_ALIGNMENT`] floats (where WebGPU can bind a view), the whole padded to one.
    pub(super) fn new(specs: &[TensorSpec]) -> Self {
        let mut offsets = vec![None; specs.len()];
        let (mut end, mut decayed) = (0, 0);
        for decays in [true, false] {
            for (i, spec) in specs.iter().enumerate() {
                if spec.role.trainable() && spec.role.decays() == decays {
                    offsets[i] = Some(end);
                    end += spec.len().next_multiple_of(FLAT_ALIGNMENT);
                }
            }
            if decays {
                decayed = end;
            }
        }
        Self {
            offsets,
            lens: specs.iter().map(TensorSpec::len).collect(),
            total: end.max(FLAT_ALIGNMENT),
            decayed,
            values: None,
            buffer: None,
            home: None,
        }
    }

    /// One step of every trainable tensor of `params` from `grads` (one a trainable tensor,
    /// every one present): PyTorch's rule as `super::sgd_update` applies it per tensor.
    /// `params` are the views this optimizer handed out at its last step (the training loop
    /// replaces only running statistics), or any tensors before its first.
    pub(super) fn step(
        &mut self,
        params: &mut [Tensor<1>],
        grads: Vec<Option<Tensor<1>>>,
        [momentum, decay, lr]: [f32; 3],
    ) {
        let device = params[0].device();
        let empty = || Tensor::<1>::empty([self.total], &device);
        let values = match self.values.take() {
            Some(values) => values,
            None => {
                let inner = params.iter().map(|p| Some(p.clone().inner()));
                self.pack(empty(), inner.collect())
            }
        };
        let home = self.home.take().unwrap_or_else(empty);
        let grads = self.pack(home, grads);
        let first = self.buffer.is_none();
        // On the first step the rule never reads the buffer: the gradients stand in.
        let buffer = self.buffer.take().unwrap_or_else(|| grads.clone());
        let (values, buffer) = <Dispatch as GpuKernels>::sgd_step(
            values.into_dispatch(),
            grads.into_dispatch(),
            buffer.into_dispatch(),
            self.decayed,
            momentum,
            decay,
            lr,
            first,
        );
        let values = Tensor::<1>::from_dispatch(values);
        for (i, at) in self.offsets.iter().enumerate() {
            if let Some(offset) = *at {
                let view =
                    <Dispatch as GpuKernels>::flat_view(values.clone().into_dispatch(), offset, self.lens[i]);
                params[i] = Tensor::<1>::from_dispatch(view).autodiff().require_grad();
            }
        }
        let home = <Dispatch as GpuKernels>::gradient_home(values.clone().into_dispatch());
        self.home = Some(Tensor::from_dispatch(home));
        self.values = Some(values);
        // Without momentum every step is a first one (the update is the gradient itself).
        self.buffer = (momentum > 0.0).then(|| Tensor::from_dispatch(buffer));
    }

    /// Each trainable tensor's momentum as a tensor of its own (a view), for going on per
    /// tensor; none before the first step or without momentum.
    pub(super) fn buffers(&self) -> Vec<Option<Tensor<1>>> {
        self.offsets
            .iter()
            .zip(&self.lens)
            .map(|(at, &len)| {
                let (buffer, offset) = (self.buffer.as_ref()?, (*at)?);
                let view = <Dispatch as GpuKernels>::flat_view(buffer.clone().into_dispatch(), offset, len);
                Some(Tensor::from_dispatch(view))
            })
            .collect()
    }

    /// `flat` with each trainable tensor's part at its place (those already there, written by
    /// a gradient kernel, are left as they are).
    fn pack(&self, flat: Tensor<1>, parts: Vec<Option<Tensor<1>>>) -> Tensor<1> {
        let mut flat = flat.into_dispatch();
        for (part, at) in parts.into_iter().zip(&self.offsets) {
            if let (Some(part), Some(offset)) = (part, *at) {
                flat = <Dispatch as GpuKernels>::place(flat, part.into_dispatch(), offset);
            }
        }
        Tensor::from_dispatch(flat)
    }
}

impl Drop for FlatSgd {
    /// The last step named a gradient home that no backward pass will use: its buffers (the
    /// parameters' size, twice) are let go rather than kept until the worker's next run.
    fn drop(&mut self) {
        if let Some(values) = self.values.take() {
            drop(<Dispatch as GpuKernels>::release_gradient_home(
                values.into_dispatch(),
            ));
        }
    }
}
