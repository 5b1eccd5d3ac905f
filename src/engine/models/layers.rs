//! The building blocks the three families share: the layout [`Builder`] that names tensors into
//! units, and the layers (dense, convolution, 2×2 max pooling, batch norm) over a value slice.

use super::*;
use crate::engine::kernels;
use burn::tensor::module::{batch_norm, batch_norm_train};

/// Indices of a dense layer's tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DenseIdx {
    pub weight: usize,
    pub bias: usize,
    pub inputs: usize,
    pub outputs: usize,
}

/// Indices of a convolution's tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvIdx {
    pub weight: usize,
    pub bias: Option<usize>,
    pub inputs: usize,
    pub outputs: usize,
    pub kernel: usize,
    pub stride: usize,
}

/// Indices of a batch norm's tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormIdx {
    pub scale: usize,
    pub shift: usize,
    pub mean: usize,
    pub var: usize,
}

/// Batch-norm ε and running-statistics momentum, PyTorch's defaults.
pub const BN_EPS: f64 = 1e-5;
pub const BN_MOMENTUM: f32 = 0.1;

/// Collects tensors and units while a model lays itself out.
#[derive(Default)]
pub struct Builder {
    tensors: Vec<TensorSpec>,
    units: Vec<UnitSpec>,
}

impl Builder {
    /// Starts a new reset unit; tensors added next belong to it.
    pub fn unit(&mut self, name: impl Into<String>) {
        self.units.push(UnitSpec {
            name: name.into(),
            tensors: Vec::new(),
        });
    }

    fn tensor(&mut self, name: String, shape: Vec<usize>, init: Init, role: Role) -> usize {
        let unit = self.units.len() - 1;
        let index = self.tensors.len();
        self.tensors.push(TensorSpec {
            name,
            shape,
            init,
            role,
            unit,
        });
        self.units[unit].tensors.push(index);
        index
    }

    /// A dense layer `[inputs] -> [outputs]`; its weight is stored `[inputs, outputs]`.
    pub fn dense(&mut self, name: &str, inputs: usize, outputs: usize, weight_init: Init) -> DenseIdx {
        let weight = self.tensor(
            format!("{name}.weight"),
            vec![inputs, outputs],
            weight_init,
            Role::Weight,
        );
        let bias_init = match weight_init {
            Init::DefaultUniform { .. } => Init::DefaultUniform { fan_in: inputs },
            _ => Init::Zeros,
        };
        let bias = self.tensor(format!("{name}.bias"), vec![outputs], bias_init, Role::Bias);
        DenseIdx {
            weight,
            bias,
            inputs,
            outputs,
        }
    }

    /// A square convolution with "same" padding; its weight is `[outputs, inputs, k, k]`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: usize,
        stride: usize,
        with_bias: bool,
        weight_init: Init,
    ) -> ConvIdx {
        let weight = self.tensor(
            format!("{name}.weight"),
            vec![outputs, inputs, kernel, kernel],
            weight_init,
            Role::Weight,
        );
        let bias = with_bias.then(|| {
            let init = match weight_init {
                Init::DefaultUniform { .. } => Init::DefaultUniform {
                    fan_in: inputs * kernel * kernel,
                },
                _ => Init::Zeros,
            };
            self.tensor(format!("{name}.bias"), vec![outputs], init, Role::Bias)
        });
        ConvIdx {
            weight,
            bias,
            inputs,
            outputs,
            kernel,
            stride,
        }
    }

    /// A batch norm over `channels`: γ = 1, β = 0, running mean 0, running variance 1.
    pub fn norm(&mut self, name: &str, channels: usize) -> NormIdx {
        NormIdx {
            scale: self.tensor(format!("{name}.weight"), vec![channels], Init::Ones, Role::Norm),
            shift: self.tensor(format!("{name}.bias"), vec![channels], Init::Zeros, Role::Norm),
            mean: self.tensor(
                format!("{name}.running_mean"),
                vec![channels],
                Init::Zeros,
                Role::RunningMean,
            ),
            var: self.tensor(
                format!("{name}.running_var"),
                vec![channels],
                Init::Ones,
                Role::RunningVar,
            ),
        }
    }

    /// A learned scalar, initialised to `init`.
    pub fn gain(&mut self, name: &str, init: Init) -> usize {
        self.tensor(name.to_string(), vec![1], init, Role::Gain)
    }

    pub fn finish(self) -> (Vec<TensorSpec>, Vec<UnitSpec>) {
        (self.tensors, self.units)
    }
}

/// `x W + b` with `x: [batch, inputs]`.
pub fn dense(values: &[Tensor<1>], layer: &DenseIdx, x: Tensor<2>) -> Tensor<2> {
    dense_layer(values, layer, x, false)
}

/// `relu(x W + b)` with `x: [batch, inputs]`: one kernel on WebGPU.
pub fn dense_relu(values: &[Tensor<1>], layer: &DenseIdx, x: Tensor<2>) -> Tensor<2> {
    dense_layer(values, layer, x, true)
}

fn dense_layer(values: &[Tensor<1>], layer: &DenseIdx, x: Tensor<2>, relu: bool) -> Tensor<2> {
    let weight = values[layer.weight]
        .clone()
        .reshape([layer.inputs, layer.outputs]);
    kernels::dense(x, weight, values[layer.bias].clone(), relu) // [batch, outputs]
}

/// A convolution with padding `kernel / 2`, `x: [batch, inputs, h, w]`.
pub fn conv(values: &[Tensor<1>], layer: &ConvIdx, x: Tensor<4>) -> Tensor<4> {
    conv_layer(values, layer, x, false)
}

/// [`conv`] then the ReLU: one kernel on WebGPU.
pub fn conv_relu(values: &[Tensor<1>], layer: &ConvIdx, x: Tensor<4>) -> Tensor<4> {
    conv_layer(values, layer, x, true)
}

fn conv_layer(values: &[Tensor<1>], layer: &ConvIdx, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let k = layer.kernel;
    let weight = values[layer.weight]
        .clone()
        .reshape([layer.outputs, layer.inputs, k, k]);
    let bias = layer.bias.map(|b| values[b].clone());
    let conv = if relu {
        kernels::conv2d_relu
    } else {
        kernels::conv2d
    };
    conv(x, weight, bias, layer.stride, k / 2) // [batch, outputs, h / stride, w / stride]
}

pub use kernels::max_pool_2x2;

/// Batch norm over `x: [batch, channels, h, w]`, recording batch statistics when training.
pub fn norm(
    values: &[Tensor<1>],
    layer: &NormIdx,
    x: Tensor<4>,
    mode: Mode,
    stats: &mut Vec<BatchStats>,
) -> Tensor<4> {
    let scale = values[layer.scale].clone();
    let shift = values[layer.shift].clone();
    match mode {
        Mode::Train => {
            let [batch, _, h, w] = x.dims();
            let out = batch_norm_train(x, scale, shift, BN_EPS);
            stats.push(BatchStats {
                mean_index: layer.mean,
                var_index: layer.var,
                mean: out.mean,
                var: out.variance,
                count: batch * h * w,
            });
            out.output
        }
        Mode::Eval => batch_norm(
            x,
            scale,
            shift,
            values[layer.mean].clone(),
            values[layer.var].clone(),
            BN_EPS,
        ),
    }
}
