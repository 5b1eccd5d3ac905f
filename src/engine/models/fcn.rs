//! The fully connected network of the paper's Figure 1: `depth` hidden ReLU layers of `width`
//! units and a linear output layer. Units `layer1 … layer{depth+1}`, each a weight and its bias.

use super::{Builder, DenseIdx, Init, dense, dense_relu};
use burn::tensor::Tensor;

pub struct Fcn {
    layers: Vec<DenseIdx>,
}

impl Fcn {
    pub fn build(b: &mut Builder, inputs: usize, depth: usize, width: usize, classes: usize) -> Self {
        let mut layers = Vec::with_capacity(depth + 1);
        let mut fan_in = inputs;
        for i in 1..=depth + 1 {
            let outputs = if i == depth + 1 { classes } else { width };
            let name = format!("layer{i}");
            b.unit(&name);
            layers.push(b.dense(&name, fan_in, outputs, Init::DefaultUniform { fan_in }));
            fan_in = outputs;
        }
        Self { layers }
    }

    /// Unit `unit` (`layer{unit+1}`): `x: [batch, inputs]` to `[batch, width]` (ReLU) or, for the
    /// output layer, `[batch, classes]`.
    pub fn unit(&self, values: &[Tensor<1>], unit: usize, x: Tensor<2>) -> Tensor<2> {
        let layer = &self.layers[unit];
        if unit + 1 < self.layers.len() {
            dense_relu(values, layer, x)
        } else {
            dense(values, layer, x)
        }
    }
}
