//! Kernel creation ahead of the run on a GPU.

use super::profile::{Inputs, queue_step};
use crate::engine::EngineError;
use crate::engine::config::{ExperimentConfig, OptimizerKind};
use crate::engine::data::Dataset;
use crate::engine::metrics::{self, TestSet};
use crate::engine::models::{Architecture, Model};
use crate::engine::optim::Optimizer;
use crate::engine::units::{self, Weights};
use burn::tensor::Device;
use std::cell::RefCell;

/// What one warm-up step created kernels for: a training step of these shapes and optimizer
/// flags on this device. cubecl keeps a device's kernels for the life of the thread (a page
/// worker keeps its device), so a step already warmed is not warmed again: not for the next seed
/// of a multi-seed run, the next run in the same worker, or the run after [`prepare_kernels`].
#[derive(Clone, Debug, PartialEq)]
struct Warmed {
    device: String,
    architecture: Architecture,
    batch: usize,
    image_shape: [usize; 3],
    classes: usize,
    optimizer: OptimizerKind,
    momentum: bool,
    decays: bool,
}

thread_local! {
    static WARMED: RefCell<Vec<Warmed>> = const { RefCell::new(Vec::new()) };
}

/// Creates the kernels of `config`'s first training step on `device` before its data is in: the
/// page calls it beside the data download, so the browser compiles while the files arrive.
/// `pause` gives the host's event loop a turn between the step's phases (the download's
/// callbacks run there). The batch is the config's; a data set with fewer examples than that
/// trains on another shape, which the run then warms up itself. Nothing happens on the CPU or
/// for a step already warmed.
pub async fn prepare_kernels(
    config: &ExperimentConfig,
    device: &Device,
    pause: impl AsyncFnMut(),
) -> Result<(), EngineError> {
    if crate::engine::kernels::on_cpu(device) {
        return Ok(());
    }
    let classes = config.dataset.class_count();
    let model = Model::new(config.architecture(), config.dataset.image_shape(), classes);
    let batch = config.batch_size.min(config.train_limit.unwrap_or(usize::MAX));
    let mut pause = pause;
    warm_up(config, &model, batch, device, &mut pause).await?;
    pause().await;
    // Checkpoint 0's evaluation follows: its kernels (the forward pass at the evaluation batch,
    // the error count) too, on a test batch of zeros, nothing read back.
    let rows = config
        .eval_batch_size
        .min(config.test_limit.unwrap_or(usize::MAX));
    if rows > 0 {
        let [c, h, w] = model.input_shape;
        let zeros = Dataset {
            kind: config.dataset,
            images: vec![0; rows * c * h * w],
            labels: vec![0; rows],
            class_names: (0..classes).map(|c| c.to_string()).collect(),
        };
        let test = TestSet::upload(&zeros, rows, device);
        let weights: Weights = model
            .tensors
            .iter()
            .map(|spec| units::upload(vec![0.0; spec.len()], device))
            .collect();
        drop(metrics::wrong_per_class(&model, &weights, &test));
    }
    Ok(())
}

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
    device: &Device,
    pause: impl AsyncFnMut(),
) -> Result<(), EngineError> {
    if crate::engine::kernels::on_cpu(device) || batch == 0 {
        return Ok(());
    }
    let warmed = Warmed {
        device: format!("{device:?}"),
        architecture: model.architecture.clone(),
        batch,
        image_shape: model.input_shape,
        classes: model.classes,
        optimizer: config.optimizer,
        momentum: config.momentum > 0.0,
        decays: config.weight_decay != 0.0,
    };
    if WARMED.with(|w| w.borrow().contains(&warmed)) {
        return Ok(());
    }
    let zeros = model
        .tensors
        .iter()
        .map(|spec| units::upload(vec![0.0; spec.len()], device));
    let mut params = super::on_graph(model, zeros);
    let mut optimizer = Optimizer::new(
        config.optimizer,
        config.momentum,
        config.weight_decay,
        params.len(),
    );
    let example_len: usize = model.input_shape.iter().product();
    let zeros = Inputs {
        model,
        pixels: &vec![0.0; batch * example_len],
        labels: &vec![0; batch],
        device,
    };
    queue_step(&zeros, &mut params, &mut optimizer, pause).await?;
    WARMED.with(|w| w.borrow_mut().push(warmed));
    Ok(())
}
