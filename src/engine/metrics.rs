//! Test error (overall and per class) and weight distances, computed on the device and read
//! back once per evaluation.

use crate::engine::data::Dataset;
use crate::engine::models::{Activation, Mode, Model};
use crate::engine::units::Weights;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// The test set, normalised and uploaded once, in evaluation batches.
pub struct TestSet {
    batches: Vec<TestBatch>,
    /// Examples per class.
    pub class_counts: Vec<usize>,
    pub len: usize,
}

struct TestBatch {
    /// `[n, c*h*w]`
    images: Tensor<2>,
    /// `[n]`
    labels: Tensor<1, Int>,
    /// `[n, classes]`
    one_hot: Tensor<2>,
}

impl TestSet {
    pub fn upload(data: &Dataset, batch_size: usize, device: &Device) -> Self {
        let normalization = data.kind.normalization();
        let classes = data.num_classes();
        let len = data.example_len();
        let mut class_counts = vec![0; classes];
        for &l in &data.labels {
            class_counts[l as usize] += 1;
        }
        let indices: Vec<usize> = (0..data.len()).collect();
        let batches = indices
            .chunks(batch_size)
            .map(|chunk| {
                let n = chunk.len();
                let mut pixels = Vec::with_capacity(n * len);
                data.gather_normalised(chunk, &normalization, None, &mut pixels);
                let labels: Vec<i64> = chunk.iter().map(|&i| data.labels[i] as i64).collect();
                let mut one_hot = vec![0f32; n * classes];
                for (row, &i) in chunk.iter().enumerate() {
                    one_hot[row * classes + data.labels[i] as usize] = 1.0;
                }
                TestBatch {
                    images: Tensor::from_data(TensorData::new(pixels, [n, len]), device),
                    labels: Tensor::from_data(TensorData::new(labels, [n]), device),
                    one_hot: Tensor::from_data(TensorData::new(one_hot, [n, classes]), device),
                }
            })
            .collect();
        Self {
            batches,
            class_counts,
            len: data.len(),
        }
    }
}

/// Test error of one model state.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Fraction of test examples misclassified (NaN: not computed).
    #[serde(with = "crate::engine::floats")]
    pub error: f64,
    /// The same per class.
    #[serde(with = "crate::engine::floats")]
    pub per_class: Vec<f64>,
}

/// The trained model's activations at the input of one unit, for every test batch: where the
/// sweep starts the cells that reset that unit (everything before it is unchanged).
pub struct UnitInputs {
    pub unit: usize,
    /// One per test batch.
    pub batches: Vec<Activation>,
}

/// Most bytes of [`UnitInputs`] kept on the device; a unit whose inputs are larger (a CNN's
/// first stages on a large test set) is evaluated from the images.
pub const UNIT_INPUTS_MAX_BYTES: usize = 256 << 20;

impl UnitInputs {
    /// The activations at the input of `unit` under `weights`, advanced from `from` (an earlier
    /// unit's) or computed from the images; `None` when they would exceed
    /// [`UNIT_INPUTS_MAX_BYTES`].
    pub fn at(
        model: &Model,
        weights: &Weights,
        test: &TestSet,
        unit: usize,
        from: Option<UnitInputs>,
    ) -> Option<Self> {
        let (start, mut inputs): (usize, Vec<Activation>) = match from {
            Some(f) if f.unit <= unit => (f.unit, f.batches),
            _ => (
                0,
                test.batches
                    .iter()
                    .map(|b| model.input(b.images.clone()))
                    .collect(),
            ),
        };
        let mut stats = Vec::new();
        for (i, x) in inputs.iter_mut().enumerate() {
            *x = model.forward_units(weights, x.clone(), start..unit, Mode::Eval, &mut stats);
            // Decide on the first batch, before computing the rest.
            if i == 0 && x.example_len().saturating_mul(test.len).saturating_mul(4) > UNIT_INPUTS_MAX_BYTES {
                return None;
            }
        }
        Some(Self {
            unit,
            batches: inputs,
        })
    }
}

/// Misclassifications per class, `[1, classes]`, still on the device (no read).
pub fn wrong_per_class(model: &Model, weights: &Weights, test: &TestSet) -> Tensor<2> {
    wrong_per_class_from(model, weights, test, None)
}

/// [`wrong_per_class`], starting at `inputs.unit` from the activations there when given.
pub fn wrong_per_class_from(
    model: &Model,
    weights: &Weights,
    test: &TestSet,
    inputs: Option<&UnitInputs>,
) -> Tensor<2> {
    let mut total: Option<Tensor<2>> = None;
    let mut stats = Vec::new();
    for (index, batch) in test.batches.iter().enumerate() {
        let n = batch.labels.dims()[0];
        let logits = match inputs {
            Some(at) => model
                .forward_units(
                    weights,
                    at.batches[index].clone(),
                    at.unit..model.units.len(),
                    Mode::Eval,
                    &mut stats,
                )
                .flat(),
            None => model.forward(weights, batch.images.clone(), Mode::Eval).logits,
        }; // [n, classes]
        let predicted = logits.argmax(1).reshape([n]); // [n]
        let wrong = predicted.not_equal(batch.labels.clone()).float().reshape([1, n]); // [1, n]
        let per_class = wrong.matmul(batch.one_hot.clone()); // [1, classes]
        total = Some(match total {
            Some(t) => t + per_class,
            None => per_class,
        });
    }
    total.expect("the test set is never empty")
}

impl Evaluation {
    /// The evaluation of weights that are not finite: NaN, "not computed".
    pub fn not_computed(classes: usize) -> Self {
        Self {
            error: f64::NAN,
            per_class: vec![f64::NAN; classes],
        }
    }
}

/// One flag per tensor of each set, read back in one go: `flag(index, tensor)` is a one-element
/// tensor, 1 for yes.
async fn tensor_flags(
    sets: &[&Weights],
    flag: impl Fn(usize, &Tensor<1>) -> Tensor<1>,
) -> Result<Vec<Vec<bool>>, String> {
    let flags: Vec<Tensor<1>> = sets
        .iter()
        .flat_map(|w| w.iter().enumerate().map(|(i, t)| flag(i, t)))
        .collect();
    let mut values = if flags.is_empty() {
        Vec::new().into_iter()
    } else {
        read_floats(Tensor::cat(flags, 0)).await?.into_iter()
    };
    Ok(sets
        .iter()
        .map(|w| (0..w.len()).map(|_| values.next() == Some(1.0)).collect())
        .collect())
}

/// For each weight set, which of its tensors hold only finite values.
pub async fn finite_flags(sets: &[&Weights]) -> Result<Vec<Vec<bool>>, String> {
    tensor_flags(sets, |_, t| t.clone().is_finite().all().float()).await
}

/// For each set (shaped like `reference`), which of its tensors hold exactly `reference`'s
/// values: equal values and equal reciprocals (which tells +0 from −0; a NaN never matches).
pub async fn same_flags(reference: &Weights, sets: &[&Weights]) -> Result<Vec<Vec<bool>>, String> {
    tensor_flags(sets, |i, t| {
        let r = &reference[i];
        let values = t.clone().equal(r.clone()).all().float();
        let signs = t.clone().recip().equal(r.clone().recip()).all().float();
        values * signs
    })
    .await
}

/// Evaluates `weights`, or reports "not computed" when any of them is not finite.
pub async fn evaluate_if_finite(
    model: &Model,
    weights: &Weights,
    test: &TestSet,
) -> Result<Evaluation, String> {
    let finite = finite_flags(&[weights]).await?;
    if finite[0].iter().all(|&ok| ok) {
        evaluate(model, weights, test).await
    } else {
        Ok(Evaluation::not_computed(test.class_counts.len()))
    }
}

/// Turns misclassification counts read from the device into an [`Evaluation`].
pub fn evaluation_from_counts(counts: &[f32], test: &TestSet) -> Evaluation {
    let wrong: f64 = counts.iter().map(|&c| c.round() as f64).sum();
    Evaluation {
        error: wrong / test.len as f64,
        per_class: counts
            .iter()
            .zip(&test.class_counts)
            .map(|(&c, &n)| if n == 0 { 0.0 } else { c.round() as f64 / n as f64 })
            .collect(),
    }
}

/// Reads a small float tensor back (the only way that works on WebGPU too).
pub async fn read_floats<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, String> {
    let data = tensor.into_data_async().await.map_err(|e| format!("{e:?}"))?;
    data.try_into_vec_as::<f32>().map_err(|e| format!("{e:?}"))
}

/// Evaluates one model state on the test set.
pub async fn evaluate(model: &Model, weights: &Weights, test: &TestSet) -> Result<Evaluation, String> {
    evaluate_from(model, weights, test, None).await
}

/// [`evaluate`], starting from a unit's inputs when given (see [`UnitInputs`]).
pub async fn evaluate_from(
    model: &Model,
    weights: &Weights,
    test: &TestSet,
    inputs: Option<&UnitInputs>,
) -> Result<Evaluation, String> {
    let counts = read_floats(wrong_per_class_from(model, weights, test, inputs)).await?;
    Ok(evaluation_from_counts(&counts, test))
}

/// `[‖a−b‖₂², ‖b‖₂², max|a−b|]` over the trainable tensors of a unit, as a `[3]` tensor.
pub fn unit_distance_terms(model: &Model, unit: usize, a: &Weights, b: &Weights) -> Tensor<1> {
    let mut diff_sq: Option<Tensor<1>> = None;
    let mut base_sq: Option<Tensor<1>> = None;
    let mut max_abs: Option<Tensor<1>> = None;
    for &t in &model.units[unit].tensors {
        if !model.tensors[t].role.trainable() {
            continue;
        }
        let diff = a[t].clone() - b[t].clone();
        let d2 = diff.clone().square().sum();
        let b2 = b[t].clone().square().sum();
        let m = diff.abs().max();
        diff_sq = Some(diff_sq.map_or(d2.clone(), |x| x + d2));
        base_sq = Some(base_sq.map_or(b2.clone(), |x| x + b2));
        max_abs = Some(max_abs.map_or(m.clone(), |x| x.max_pair(m)));
    }
    Tensor::cat(
        vec![
            diff_sq.expect("every unit has a trainable tensor"),
            base_sq.expect("every unit has a trainable tensor"),
            max_abs.expect("every unit has a trainable tensor"),
        ],
        0,
    )
}

/// `(l2_relative, linf)` from the three terms of [`unit_distance_terms`].
pub fn distance_from_terms(terms: &[f32]) -> (f32, f32) {
    let (diff_sq, base_sq, max_abs) = (terms[0] as f64, terms[1] as f64, terms[2]);
    let relative = if base_sq > 0.0 {
        (diff_sq.sqrt() / base_sq.sqrt()) as f32
    } else {
        diff_sq.sqrt() as f32
    };
    (relative, max_abs)
}
