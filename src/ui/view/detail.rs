//! The detail panel of a clicked error-map cell: its error against the trained model's, per
//! class, and the unit's distance from its initial weights.

use crate::engine::result::ResultFile;

/// What the detail panel shows for a clicked cell of the error map.
#[derive(Clone, Debug, PartialEq)]
pub struct Detail {
    pub title: String,
    pub error: f64,
    pub baseline: f64,
    /// `(class, error of this reset, error of the trained model)`.
    pub per_class: Vec<(String, f64, f64)>,
    /// `(ℓ2 relative, ℓ∞)` of the unit at this column, when the row is a unit.
    pub distance: Option<(f64, f64)>,
    /// A multi-seed run: how the error scatters over the seeds.
    pub spread: Option<super::Spread>,
    /// A multi-seed run: `(seeds in which this reset is critical, seeds judged)` at the verdict
    /// threshold; only for a unit's checkpoint-0 cell, the one verdicts read.
    pub critical_in: Option<(usize, usize)>,
}

/// The detail of `(row, column)` of [`error_map`], if that cell has a value; `threshold` is the
/// verdicts' (for a multi-seed run's "critical in k of n seeds").
pub fn detail(result: &ResultFile, row: usize, column: usize, threshold: f64) -> Option<Detail> {
    let units = result.units.len();
    let r = &result.robustness;
    let pc = &result.per_class;
    let (title, error, per_class, distance) = if row < units {
        let name = &result.units[row];
        if column == 0 {
            (
                format!("{name} re-randomized"),
                r.rerandomized[row],
                pc.rerandomized.get(row).cloned().unwrap_or_default(),
                Some((
                    result.distance.rerandomized_l2_relative[row] as f64,
                    result.distance.rerandomized_linf[row] as f64,
                )),
            )
        } else {
            let c = column - 1;
            (
                format!(
                    "{name} re-initialized to checkpoint {}",
                    result.checkpoints.get(c)?
                ),
                *r.reinitialized[row].get(c)?,
                pc.reinitialized
                    .get(row)
                    .and_then(|u| u.get(c))
                    .cloned()
                    .unwrap_or_default(),
                Some((
                    result.distance.l2_relative[row][c] as f64,
                    result.distance.linf[row][c] as f64,
                )),
            )
        }
    } else if row == units && column > 0 {
        let c = column - 1;
        (
            format!("whole model at checkpoint {}", result.checkpoints.get(c)?),
            *r.full_model.get(c)?,
            pc.full_model.get(c).cloned().unwrap_or_default(),
            None,
        )
    } else {
        return None;
    };
    let per_class = result
        .class_names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                name.clone(),
                per_class.get(i).copied().unwrap_or(f64::NAN),
                pc.trained.get(i).copied().unwrap_or(f64::NAN),
            )
        })
        .collect();
    let spread = super::error_map(result).spread_at(row, column);
    let critical_in = (row < units && column == 1)
        .then(|| result.critical_in_seeds(row, threshold))
        .flatten();
    Some(Detail {
        title,
        error,
        baseline: result.final_test_error,
        per_class,
        distance,
        spread,
        critical_in,
    })
}
