//! Where an FCN training step's time goes on a device: the bench's step (FCN 3×256 on MNIST
//! shapes, batch 128, SGD momentum) run cumulatively — forward; forward and loss; those and the
//! backward pass; the whole step with the optimizer — each ended by one read-back that waits for
//! the device, so that each phase's share is the difference of two medians. The variants take
//! turns, step by step, so that the host's drift (a software adapter's step varies by ±10% from
//! second to second) falls on all of them alike: timed one variant after the other, a phase of a
//! millisecond came out negative. The read-back itself is in every variant and is reported apart
//! (`sync_ms`, an empty round trip).

use super::EngineError;
use super::loss::batch_loss;
use crate::engine::config::OptimizerKind;
use crate::engine::metrics::read_floats;
use crate::engine::models::{Architecture, Mode, Model};
use crate::engine::optim::Optimizer;
use crate::engine::rng::Rng;
use crate::engine::units::initial_weights;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;
use web_time::Instant;

/// Mean milliseconds per step of each phase.
#[derive(Clone, Debug, Serialize)]
pub struct StepProfile {
    pub batch: usize,
    pub steps: usize,
    pub forward_ms: f64,
    pub loss_ms: f64,
    pub backward_ms: f64,
    pub optimizer_ms: f64,
    /// The whole step, read-back included.
    pub step_ms: f64,
    /// One read-back of a scalar with nothing queued.
    pub sync_ms: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Upto {
    Forward,
    Loss,
    Backward,
    Step,
}

/// Profiles `steps` steps of each variant (after two warm-up rounds) on `device`.
pub async fn fcn_step_profile(device: &Device, steps: usize) -> Result<StepProfile, EngineError> {
    let batch = 128;
    let model = Model::new(Architecture::Fcn { depth: 3, width: 256 }, [1, 28, 28], 10);
    let Trainee {
        mut params,
        mut optimizer,
        pixels,
        labels,
    } = Trainee::new(&model, batch, device);
    let inputs = Inputs {
        model: &model,
        pixels: &pixels,
        labels: &labels,
        device,
    };
    let variants = [Upto::Forward, Upto::Loss, Upto::Backward, Upto::Step];
    let mut times: [Vec<f64>; 4] = Default::default();
    for round in 0..steps + 2 {
        for (i, &upto) in variants.iter().enumerate() {
            let ms = step_ms(&inputs, upto, &mut params, &mut optimizer).await?;
            if round >= 2 {
                times[i].push(ms);
            }
        }
    }
    let [forward, loss, backward, step] = times.map(median);

    let mut sync_total = 0.0;
    for _ in 0..steps {
        let started = Instant::now();
        read_floats(Tensor::<1>::from_data(TensorData::new(vec![0.0f32], [1]), device))
            .await
            .map_err(EngineError::Device)?;
        sync_total += started.elapsed().as_secs_f64() * 1e3;
    }
    Ok(StepProfile {
        batch,
        steps,
        forward_ms: forward,
        loss_ms: loss - forward,
        backward_ms: backward - loss,
        optimizer_ms: step - backward,
        step_ms: step,
        sync_ms: sync_total / steps as f64,
    })
}

/// The middle value (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// A batch of `model`'s inputs drawn in [-1, 1) with random labels, from `seed`: pixels
/// `[batch, c·h·w]` and labels `[batch]`.
pub fn random_batch(model: &Model, batch: usize, seed: u64) -> (Vec<f32>, Vec<i64>) {
    let mut rng = Rng::from_seed(seed);
    let features: usize = model.input_shape.iter().product();
    let pixels: Vec<f32> = (0..batch * features)
        .map(|_| rng.uniform(-1.0, 1.0) as f32)
        .collect();
    let labels: Vec<i64> = (0..batch)
        .map(|_| rng.below(model.classes as u64) as i64)
        .collect();
    (pixels, labels)
}

/// A model's initial weights on the autodiff graph, SGD with momentum, and one batch of random
/// inputs in [-1, 1) with random labels: what both timings train on.
struct Trainee {
    params: Vec<Tensor<1>>,
    optimizer: Optimizer,
    pixels: Vec<f32>,
    labels: Vec<i64>,
}

impl Trainee {
    fn new(model: &Model, batch: usize, device: &Device) -> Self {
        let params = super::on_graph(model, initial_weights(model, 0, device));
        let optimizer = Optimizer::new(OptimizerKind::Sgd, 0.9, 0.0, params.len());
        let (pixels, labels) = random_batch(model, batch, 1);
        Self {
            params,
            optimizer,
            pixels,
            labels,
        }
    }
}

/// What every variant runs on (and the warm-up step, `super::warm_up`).
pub(super) struct Inputs<'a> {
    pub(super) model: &'a Model,
    pub(super) pixels: &'a [f32],
    pub(super) labels: &'a [i64],
    pub(super) device: &'a Device,
}

/// Milliseconds of one step up to `upto`, ended by a read-back.
async fn step_ms(
    inputs: &Inputs<'_>,
    upto: Upto,
    params: &mut [Tensor<1>],
    optimizer: &mut Optimizer,
) -> Result<f64, EngineError> {
    let started = Instant::now();
    let done: Tensor<1> = match upto {
        Upto::Forward => train_logits(inputs, params).inner().sum(),
        Upto::Loss | Upto::Backward => {
            let logits = train_logits(inputs, params); // [batch, classes]
            let loss = batch_loss(logits, inputs.labels, inputs.device).await?;
            if upto == Upto::Loss {
                loss.value
            } else {
                let grads = loss.objective.backward();
                let sums: Vec<Tensor<1>> = params
                    .iter()
                    .filter_map(|p| p.grad(&grads))
                    .map(|g| g.sum())
                    .collect();
                Tensor::cat(sums, 0).sum()
            }
        }
        Upto::Step => {
            queue_step(inputs, params, optimizer, async || {}).await?;
            let sums: Vec<Tensor<1>> = params.iter().map(|p| p.clone().inner().sum()).collect();
            Tensor::cat(sums, 0).sum()
        }
    };
    read_floats(done).await.map_err(EngineError::Device)?;
    Ok(started.elapsed().as_secs_f64() * 1e3)
}

/// A model's training step timed the way a long run sees it: the first step (pipelines
/// compiled, buffers allocated) and then the mean of `steps` steps queued back to back with one
/// read-back at the end, as the training loop does between its progress reports.
#[derive(Clone, Debug, Serialize)]
pub struct SteadySteps {
    pub batch: usize,
    pub steps: usize,
    /// The first step, its read-back included.
    pub first_step_ms: f64,
    /// Mean milliseconds a step after three warm-up steps.
    pub step_ms: f64,
    pub samples_per_s: f64,
}

/// Times training steps of `model` (SGD with momentum, random inputs and labels) on `device`.
pub async fn steady_steps(
    device: &Device,
    model: &Model,
    batch: usize,
    steps: usize,
) -> Result<SteadySteps, EngineError> {
    let Trainee {
        mut params,
        mut optimizer,
        pixels,
        labels,
    } = Trainee::new(model, batch, device);
    let inputs = Inputs {
        model,
        pixels: &pixels,
        labels: &labels,
        device,
    };
    let first_step_ms = step_ms(&inputs, Upto::Step, &mut params, &mut optimizer).await?;
    for _ in 0..3 {
        step_ms(&inputs, Upto::Step, &mut params, &mut optimizer).await?;
    }
    let started = Instant::now();
    for _ in 0..steps.saturating_sub(1) {
        queue_step(&inputs, &mut params, &mut optimizer, async || {}).await?;
    }
    step_ms(&inputs, Upto::Step, &mut params, &mut optimizer).await?;
    let step_ms = started.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64;
    Ok(SteadySteps {
        batch,
        steps,
        first_step_ms,
        step_ms,
        samples_per_s: batch as f64 * 1e3 / step_ms,
    })
}

/// One whole training step left queued on the device (no read-back).
pub(super) async fn queue_step(
    inputs: &Inputs<'_>,
    params: &mut [Tensor<1>],
    optimizer: &mut Optimizer,
    mut between: impl AsyncFnMut(),
) -> Result<(), EngineError> {
    let logits = train_logits(inputs, params); // [batch, classes]
    let loss = batch_loss(logits, inputs.labels, inputs.device).await?;
    between().await;
    let mut grads = loss.objective.backward();
    between().await;
    optimizer.step(params, &inputs.model.tensors, &mut grads, 0.01);
    Ok(())
}

/// The model's logits `[batch, classes]` on the inputs, in training mode.
fn train_logits(inputs: &Inputs<'_>, params: &[Tensor<1>]) -> Tensor<2> {
    let batch = inputs.labels.len();
    let features = inputs.pixels.len() / batch;
    let x = Tensor::<2>::from_data(
        TensorData::new(inputs.pixels.to_vec(), [batch, features]),
        inputs.device,
    ); // [batch, c·h·w]
    inputs.model.forward(params, x, Mode::Train).logits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_is_timed_on_the_cpu() {
        let p = pollster::block_on(fcn_step_profile(&Device::flex(), 2)).unwrap();
        assert!(
            p.step_ms > 0.0 && p.forward_ms > 0.0 && p.step_ms >= p.forward_ms,
            "{p:?}"
        );
    }

    #[test]
    fn steady_steps_train_a_cnn_on_the_cpu() {
        let model = Model::new(
            Architecture::Vgg {
                variant: crate::engine::models::vgg::Variant::Vgg11,
                width_mult: 0.125,
                batch_norm: false,
            },
            [3, 32, 32],
            10,
        );
        let s = pollster::block_on(steady_steps(&Device::flex(), &model, 4, 2)).unwrap();
        assert!(s.first_step_ms > 0.0 && s.step_ms > 0.0, "{s:?}");
        assert!((s.samples_per_s - 4e3 / s.step_ms).abs() < 1e-6, "{s:?}");
    }
}
