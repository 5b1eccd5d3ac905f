//! CIFAR ResNet-18/34 with pre-activation residual blocks (He et al., 2016, "Identity mappings"):
//! a 3x3 stem, four stages at widths 64/128/256/512 x multiplier, a 1x1 projection shortcut where
//! the shape changes, then batch norm, ReLU, global average pooling and `final_linear`.
//!
//! Units: `stage0` (the stem), `stage{k}.resblk{j}` (the whole residual block, its shortcut and
//! its batch norms included), `final_linear` (with the head's batch norm: that norm is part of
//! the head's computation, not of the last block).
//!
//! Normalization-free variant: no batch norm, biases on the convolutions, and each residual
//! branch scaled by a learned gain initialised at 0 (SkipInit, De & Smith 2020), so the network
//! starts as the identity and trains without normalisation. The gain belongs to its block.

use super::{
    Activation, BatchStats, Builder, ConvIdx, DenseIdx, Init, Mode, NormIdx, conv, dense, norm, scaled,
};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    ResNet18,
    ResNet34,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::ResNet18 => "resnet18",
            Variant::ResNet34 => "resnet34",
        }
    }

    pub fn blocks_per_stage(self) -> [usize; 4] {
        crate::engine::budget::resnet_blocks_per_stage(match self {
            Variant::ResNet18 => crate::engine::config::ModelKind::Resnet18,
            Variant::ResNet34 => crate::engine::config::ModelKind::Resnet34,
        })
    }
}

struct ResBlock {
    norm1: Option<NormIdx>,
    conv1: ConvIdx,
    norm2: Option<NormIdx>,
    conv2: ConvIdx,
    shortcut: Option<ConvIdx>,
    gain: Option<usize>,
}

pub struct ResNet {
    stem: ConvIdx,
    blocks: Vec<ResBlock>,
    head_norm: Option<NormIdx>,
    final_linear: DenseIdx,
}

fn he(outputs: usize, kernel: usize) -> Init {
    Init::HeNormal {
        fan: outputs * kernel * kernel,
    }
}

impl ResNet {
    pub fn build(
        b: &mut Builder,
        variant: Variant,
        input_shape: [usize; 3],
        width_mult: f64,
        batch_norm: bool,
        classes: usize,
    ) -> Self {
        let bias = !batch_norm;
        let stem_width = scaled(64, width_mult);
        b.unit("stage0");
        let stem = b.conv(
            "stage0.conv",
            input_shape[0],
            stem_width,
            3,
            1,
            bias,
            he(stem_width, 3),
        );
        let mut channels = stem_width;
        let mut blocks = Vec::new();
        for (k, (&count, width)) in variant
            .blocks_per_stage()
            .iter()
            .zip(crate::engine::budget::RESNET_WIDTHS)
            .enumerate()
        {
            let outputs = scaled(width, width_mult);
            for j in 0..count {
                let stride = if k > 0 && j == 0 { 2 } else { 1 };
                let name = format!("stage{}.resblk{}", k + 1, j + 1);
                b.unit(&name);
                let norm1 = batch_norm.then(|| b.norm(&format!("{name}.bn1"), channels));
                let conv1 = b.conv(
                    &format!("{name}.conv1"),
                    channels,
                    outputs,
                    3,
                    stride,
                    bias,
                    he(outputs, 3),
                );
                let norm2 = batch_norm.then(|| b.norm(&format!("{name}.bn2"), outputs));
                let conv2 = b.conv(
                    &format!("{name}.conv2"),
                    outputs,
                    outputs,
                    3,
                    1,
                    bias,
                    he(outputs, 3),
                );
                let shortcut = (stride != 1 || channels != outputs).then(|| {
                    b.conv(
                        &format!("{name}.shortcut"),
                        channels,
                        outputs,
                        1,
                        stride,
                        bias,
                        he(outputs, 1),
                    )
                });
                let gain = (!batch_norm).then(|| b.gain(&format!("{name}.gain"), Init::Zeros));
                blocks.push(ResBlock {
                    norm1,
                    conv1,
                    norm2,
                    conv2,
                    shortcut,
                    gain,
                });
                channels = outputs;
            }
        }
        b.unit("final_linear");
        let head_norm = batch_norm.then(|| b.norm("final_linear.bn", channels));
        let final_linear = b.dense(
            "final_linear",
            channels,
            classes,
            Init::DefaultUniform { fan_in: channels },
        );
        Self {
            stem,
            blocks,
            head_norm,
            final_linear,
        }
    }

    /// Unit `unit`: `stage0` (the stem convolution), each residual block, then `final_linear`
    /// (the head's batch norm and ReLU, global average pooling, the dense layer).
    pub fn unit(
        &self,
        values: &[Tensor<1>],
        unit: usize,
        x: Activation,
        mode: Mode,
        stats: &mut Vec<BatchStats>,
    ) -> Activation {
        let x = x.image();
        if unit == 0 {
            return Activation::Image(conv(values, &self.stem, x)); // [batch, 64m, 32, 32]
        }
        if let Some(block) = self.blocks.get(unit - 1) {
            let pre = match &block.norm1 {
                Some(n) => relu(norm(values, n, x.clone(), mode, stats)),
                None => relu(x.clone()),
            };
            let shortcut = match &block.shortcut {
                Some(s) => conv(values, s, pre.clone()), // [batch, out, h/stride, w/stride]
                None => x,
            };
            let mut branch = conv(values, &block.conv1, pre);
            branch = match &block.norm2 {
                Some(n) => relu(norm(values, n, branch, mode, stats)),
                None => relu(branch),
            };
            branch = conv(values, &block.conv2, branch);
            if let Some(g) = block.gain {
                branch = branch * values[g].clone().reshape([1, 1, 1, 1]);
            }
            return Activation::Image(shortcut + branch);
        }
        let x = match &self.head_norm {
            Some(n) => relu(norm(values, n, x, mode, stats)),
            None => relu(x),
        };
        let [batch, channels, _, _] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2).reshape([batch, channels]); // [batch, channels]
        Activation::Flat(dense(values, &self.final_linear, pooled)) // [batch, classes]
    }
}
