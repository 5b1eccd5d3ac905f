//! VGG-11/13/16/19 for 32x32 inputs: 3x3 convolutions in five stages, each closed by a 2x2 max
//! pool, then `fc1 -> fc2 -> final_linear`. Units: `stage{s}.block{b}` per convolution (with its
//! batch norm, when there is one), `fc1`, `fc2`, `final_linear`.
//!
//! Without batch norm the convolutions and the hidden dense layers use He (Kaiming-normal,
//! ReLU gain, fan-out for convolutions as torchvision does) initialization: with the default
//! uniform one a plain VGG does not train. The output layer keeps the default initializer.

use super::{
    Activation, BatchStats, Builder, ConvIdx, DenseIdx, Init, Mode, NormIdx, conv, conv_relu, dense,
    dense_relu, max_pool_2x2, norm, scaled,
};
use crate::engine::budget;
use crate::engine::config::ModelKind;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Vgg11,
    Vgg13,
    Vgg16,
    Vgg19,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Vgg11 => "vgg11",
            Variant::Vgg13 => "vgg13",
            Variant::Vgg16 => "vgg16",
            Variant::Vgg19 => "vgg19",
        }
    }

    /// Output channels of each convolution, stage by stage.
    pub fn stages(self) -> Vec<Vec<usize>> {
        let model = match self {
            Variant::Vgg11 => ModelKind::Vgg11,
            Variant::Vgg13 => ModelKind::Vgg13,
            Variant::Vgg16 => ModelKind::Vgg16,
            Variant::Vgg19 => ModelKind::Vgg19,
        };
        budget::vgg_convs_per_stage(model)
            .iter()
            .zip(budget::VGG_WIDTHS)
            .map(|(&n, w)| vec![w; n])
            .collect()
    }
}

struct Block {
    conv: ConvIdx,
    norm: Option<NormIdx>,
}

pub struct Vgg {
    stages: Vec<Vec<Block>>,
    fc1: DenseIdx,
    fc2: DenseIdx,
    final_linear: DenseIdx,
    flat: usize,
}

impl Vgg {
    pub fn build(
        b: &mut Builder,
        variant: Variant,
        input_shape: [usize; 3],
        width_mult: f64,
        batch_norm: bool,
        classes: usize,
    ) -> Self {
        let [mut channels, mut h, mut w] = input_shape;
        let mut stages = Vec::new();
        for (s, widths) in variant.stages().into_iter().enumerate() {
            let mut blocks = Vec::new();
            for (i, width) in widths.into_iter().enumerate() {
                let name = format!("stage{}.block{}", s + 1, i + 1);
                let outputs = scaled(width, width_mult);
                b.unit(&name);
                let conv = b.conv(
                    &format!("{name}.conv"),
                    channels,
                    outputs,
                    3,
                    1,
                    !batch_norm,
                    Init::HeNormal { fan: outputs * 9 },
                );
                let norm = batch_norm.then(|| b.norm(&format!("{name}.bn"), outputs));
                blocks.push(Block { conv, norm });
                channels = outputs;
            }
            stages.push(blocks);
            h /= 2;
            w /= 2;
        }
        let flat = channels * h * w;
        let hidden = scaled(512, width_mult);
        b.unit("fc1");
        let fc1 = b.dense("fc1", flat, hidden, Init::HeNormal { fan: flat });
        b.unit("fc2");
        let fc2 = b.dense("fc2", hidden, hidden, Init::HeNormal { fan: hidden });
        b.unit("final_linear");
        let final_linear = b.dense(
            "final_linear",
            hidden,
            classes,
            Init::DefaultUniform { fan_in: hidden },
        );
        Self {
            stages,
            fc1,
            fc2,
            final_linear,
            flat,
        }
    }

    /// Unit `unit`: a block (convolution, batch norm, ReLU, and the stage's 2×2 max pool after
    /// its last block), then `fc1`, `fc2`, `final_linear`.
    pub fn unit(
        &self,
        values: &[Tensor<1>],
        unit: usize,
        x: Activation,
        mode: Mode,
        stats: &mut Vec<BatchStats>,
    ) -> Activation {
        let mut index = unit;
        for stage in &self.stages {
            if index < stage.len() {
                let block = &stage[index];
                let mut x = match &block.norm {
                    Some(n) => relu(norm(values, n, conv(values, &block.conv, x.image()), mode, stats)),
                    None => conv_relu(values, &block.conv, x.image()), // [batch, channels, h, w]
                };
                if index + 1 == stage.len() {
                    x = max_pool_2x2(x); // [batch, channels, h/2, w/2]
                }
                return Activation::Image(x);
            }
            index -= stage.len();
        }
        match index {
            0 => {
                let x = match x {
                    Activation::Image(x) => {
                        let batch = x.dims()[0];
                        x.reshape([batch, self.flat]) // [batch, channels]
                    }
                    Activation::Flat(x) => x,
                };
                Activation::Flat(dense_relu(values, &self.fc1, x))
            }
            1 => Activation::Flat(dense_relu(values, &self.fc2, x.flat())),
            _ => Activation::Flat(dense(values, &self.final_linear, x.flat())), // [batch, classes]
        }
    }
}
