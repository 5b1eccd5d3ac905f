//! Kernel creation ahead of the run on a GPU.

use super::profile::{Inputs, queue_step};
use crate::engine::EngineError;
use crate::engine::config::ExperimentConfig;
use crate::engine::models::Model;
use crate::engine::optim::Optimizer;
use crate::engine::units;
use burn::tensor::{Device, Tensor};

/// On a GPU, one training step of the run's shapes on zeros, its results dropped and nothing
/// read back, before checkpoint 0's evaluation. The evaluation reads its error back, so without
/// this the first step's kernels (the backward and the optimizer's) are only written once the
/// device has compiled and run the forward ones; with it, cubecl writes every kernel's WGSL
/// while the browser compiles the ones before it (each pipeline is flushed to it at once:
/// `runtime::adapter::flush_pipeline_creation`), and the evaluation's wait covers them all.
/// Zeros draw nothing from the run's random streams, so the run is the same with or without it.
/// On the CPU there is nothing to compile: it does nothing.
pub(super) async fn warm_up(
    config: &ExperimentConfig,
    model: &Model,
    batch: usize,
    example_len: usize,
    device: &Device,
) -> Result<(), EngineError> {
    if crate::engine::kernels::on_cpu(device) {
        return Ok(());
    }
    let mut params: Vec<Tensor<1>> = model
        .tensors
        .iter()
        .map(|spec| {
            let zeros = units::upload(vec![0.0; spec.len()], device);
            if spec.role.trainable() {
                zeros.autodiff().require_grad()
            } else {
                zeros
            }
        })
        .collect();
    let mut optimizer = Optimizer::new(
        config.optimizer,
        config.momentum,
        config.weight_decay,
        params.len(),
    );
    let zeros = Inputs {
        model,
        pixels: &vec![0.0; batch * example_len],
        labels: &vec![0; batch],
        device,
    };
    queue_step(&zeros, &mut params, &mut optimizer).await?;
    Ok(())
}
