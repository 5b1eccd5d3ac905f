//! The heat maps of a result: test error (with the sweep in progress), distances, and the
//! difference of two results.

use super::{Format, HeatmapData, Palette, Spread};
use crate::engine::events::Cell;
use crate::engine::result::{ResultFile, Robustness, SeedStat};
use std::collections::HashMap;

/// Column labels: `ReRnd`, then each checkpoint.
pub fn columns(checkpoints: &[usize]) -> Vec<String> {
    std::iter::once("ReRnd".to_string())
        .chain(checkpoints.iter().map(|c| c.to_string()))
        .collect()
}

/// A unit's and the full model's errors as map rows: units × (ReRnd, checkpoints), then
/// `fullmodel` (no ReRnd). `shown` filters each value by its cell.
fn error_rows(r: &Robustness, shown: impl Fn(Cell, f64) -> Option<f64>) -> Vec<Vec<Option<f64>>> {
    let mut values: Vec<Vec<Option<f64>>> = (0..r.rerandomized.len())
        .map(|u| {
            std::iter::once(shown(Cell::Rerandomized { unit: u }, r.rerandomized[u]))
                .chain(r.reinitialized[u].iter().enumerate().map(|(c, &e)| {
                    shown(
                        Cell::Reinitialized {
                            unit: u,
                            checkpoint: c,
                        },
                        e,
                    )
                }))
                .collect()
        })
        .collect();
    values.push(
        std::iter::once(None)
            .chain(
                r.full_model
                    .iter()
                    .enumerate()
                    .map(|(c, &e)| shown(Cell::FullModel { checkpoint: c }, e)),
            )
            .collect(),
    );
    values
}

/// A multi-seed run's spread of a map, from the same map built of the summary's standard
/// deviations, minima and maxima. Empty for a single-seed result.
fn seed_spread(
    result: &ResultFile,
    grid: impl Fn(&SeedStat) -> Vec<Vec<Option<f64>>>,
) -> Vec<Vec<Option<Spread>>> {
    let Some(summary) = &result.seed_summary else {
        return Vec::new();
    };
    let seeds = result.seed_list().len();
    let (std, min, max) = (grid(&summary.std), grid(&summary.min), grid(&summary.max));
    std.iter()
        .zip(&min)
        .zip(&max)
        .map(|((std, min), max)| {
            std.iter()
                .zip(min)
                .zip(max)
                .map(|((std, min), max)| {
                    Some(Spread {
                        std: (*std)?,
                        min: (*min)?,
                        max: (*max)?,
                        seeds,
                    })
                    .filter(|s| !s.std.is_nan())
                })
                .collect()
        })
        .collect()
}

/// The test-error map of a finished result: units plus `fullmodel` × ReRnd plus checkpoints.
pub fn error_map(result: &ResultFile) -> HeatmapData {
    // Cells a stopped sweep never reached are unknown (None), unlike NaN ones (not finite).
    let computed = |cell: Cell, value: f64| -> Option<f64> {
        let index = plan_index(result.units.len(), result.checkpoints.len(), cell);
        match result.sweep_cells_done {
            Some(done) if index >= done => None,
            _ => Some(value),
        }
    };
    let mut rows = result.units.clone();
    rows.push("fullmodel".into());
    HeatmapData {
        id: "error",
        title: if result.seed_summary.is_some() {
            "Test error after resetting a unit (mean over seeds)".into()
        } else {
            "Test error after resetting a unit".into()
        },
        rows,
        columns: columns(&result.checkpoints),
        values: error_rows(&result.robustness, computed),
        palette: Palette::Reds,
        format: Format::Percent,
        units_as_columns: false,
        spread: seed_spread(result, |s| error_rows(&s.robustness, |_, v| Some(v))),
    }
}

/// Module criticality's map (`interpolation`): units × α, each cell the test error with the
/// unit at `(1 − α)·θ⁰ + α·θ` and every other unit trained. `None` without α values.
pub fn interpolation_map(result: &ResultFile) -> Option<HeatmapData> {
    let i = result.interpolation.as_ref()?;
    let rows = |errors: &[Vec<f64>]| -> Vec<Vec<Option<f64>>> {
        errors
            .iter()
            .map(|row| row.iter().map(|&e| Some(e)).collect())
            .collect()
    };
    // A stopped sweep leaves cells not computed (NaN): shown as pending.
    let stopped = result.sweep_cells_done.is_some();
    let values = i
        .test_error
        .iter()
        .map(|row| {
            row.iter()
                .map(|&e| (!(stopped && e.is_nan())).then_some(e))
                .collect()
        })
        .collect();
    Some(HeatmapData {
        id: "interpolation",
        title: "Test error along the path from initial to trained weights".into(),
        rows: result.units.clone(),
        columns: i.alphas.iter().map(|a| format!("α={a}")).collect(),
        values,
        palette: Palette::Reds,
        format: Format::Percent,
        units_as_columns: false,
        spread: seed_spread(result, |s| {
            s.interpolation.as_deref().map(rows).unwrap_or_default()
        }),
    })
}

/// The ℓ2-relative and ℓ∞ distance maps (units × ReRnd plus checkpoints).
pub fn distance_maps(result: &ResultFile) -> [HeatmapData; 2] {
    let d = &result.distance;
    let grid = |fresh: &[f32], grid: &[Vec<f32>]| -> Vec<Vec<Option<f64>>> {
        fresh
            .iter()
            .zip(grid)
            .map(|(&f, row)| {
                std::iter::once(Some(f as f64))
                    .chain(row.iter().map(|&v| Some(v as f64)))
                    .collect()
            })
            .collect()
    };
    [
        HeatmapData {
            id: "l2",
            title: "ℓ2 distance from initial weights (relative)".into(),
            rows: result.units.clone(),
            columns: columns(&result.checkpoints),
            values: grid(&d.rerandomized_l2_relative, &d.l2_relative),
            palette: Palette::Blues,
            format: Format::Decimal,
            units_as_columns: false,
            spread: seed_spread(result, |s| {
                grid(&s.distance.rerandomized_l2_relative, &s.distance.l2_relative)
            }),
        },
        HeatmapData {
            id: "linf",
            title: "ℓ∞ distance from initial weights".into(),
            rows: result.units.clone(),
            columns: columns(&result.checkpoints),
            values: grid(&d.rerandomized_linf, &d.linf),
            palette: Palette::Blues,
            format: Format::Decimal,
            units_as_columns: false,
            spread: seed_spread(result, |s| grid(&s.distance.rerandomized_linf, &s.distance.linf)),
        },
    ]
}

/// The error map of a sweep still in progress: known cells filled, the rest empty.
pub fn partial_error_map(units: &[String], checkpoints: &[usize], cells: &HashMap<Cell, f64>) -> HeatmapData {
    let mut rows: Vec<String> = units.to_vec();
    rows.push("fullmodel".into());
    let values = (0..rows.len())
        .map(|r| {
            (0..=checkpoints.len())
                .map(|c| {
                    let key = if r == units.len() {
                        if c == 0 {
                            return None;
                        }
                        Cell::FullModel { checkpoint: c - 1 }
                    } else if c == 0 {
                        Cell::Rerandomized { unit: r }
                    } else {
                        Cell::Reinitialized {
                            unit: r,
                            checkpoint: c - 1,
                        }
                    };
                    cells.get(&key).copied()
                })
                .collect()
        })
        .collect();
    HeatmapData {
        id: "error",
        title: "Test error after resetting a unit".into(),
        rows,
        columns: columns(checkpoints),
        values,
        palette: Palette::Reds,
        format: Format::Percent,
        units_as_columns: false,
        spread: Vec::new(),
    }
}

/// The difference `b − a` of two results' error maps, over the units and checkpoints they share.
pub fn difference_map(a: &ResultFile, b: &ResultFile) -> Option<HeatmapData> {
    let ea = error_map(a);
    let eb = error_map(b);
    let rows: Vec<String> = ea.rows.iter().filter(|r| eb.rows.contains(r)).cloned().collect();
    let columns: Vec<String> = ea
        .columns
        .iter()
        .filter(|c| eb.columns.contains(c))
        .cloned()
        .collect();
    if rows.len() <= 1 || columns.len() <= 1 {
        return None;
    }
    let at = |m: &HeatmapData, r: &str, c: &str| -> Option<f64> {
        let ri = m.rows.iter().position(|x| x == r)?;
        let ci = m.columns.iter().position(|x| x == c)?;
        m.values[ri][ci]
    };
    let values = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| Some(at(&eb, r, c)? - at(&ea, r, c)?))
                .collect()
        })
        .collect();
    Some(HeatmapData {
        id: "difference",
        title: "Difference in test error (second − first)".into(),
        rows,
        columns,
        values,
        palette: Palette::Diverging,
        format: Format::Points,
        units_as_columns: false,
        spread: Vec::new(),
    })
}

/// Where a unit or full-model cell stands in [`crate::engine::events::plan`]'s order.
pub fn plan_index(units: usize, checkpoints: usize, cell: Cell) -> usize {
    match cell {
        Cell::Rerandomized { unit } => unit * (checkpoints + 1),
        Cell::Reinitialized { unit, checkpoint } => unit * (checkpoints + 1) + 1 + checkpoint,
        Cell::FullModel { checkpoint } => units * (checkpoints + 1) + checkpoint,
        Cell::Joint { .. } | Cell::JointRerandomized { .. } | Cell::Interpolated { .. } => usize::MAX,
    }
}

/// The joint sets' map (`--joint`): one row per set (its units joined by `+`), ReRnd then each
/// checkpoint, each cell the test error with all of the set's units reset together and every
/// other unit trained. `None` when the run had no joint sets.
pub fn joint_map(result: &ResultFile) -> Option<HeatmapData> {
    let r = &result.robustness;
    let mut sets: Vec<&Vec<String>> = Vec::new();
    for units in r
        .joint_rerandomized
        .iter()
        .map(|j| &j.units)
        .chain(r.joint.iter().map(|j| &j.units))
    {
        if !sets.contains(&units) {
            sets.push(units);
        }
    }
    if sets.is_empty() {
        return None;
    }
    // A stopped sweep leaves its joint cells not computed (NaN in the file): shown as pending.
    let shown = |value: f64| (!(result.sweep_cells_done.is_some() && value.is_nan())).then_some(value);
    let values = sets
        .iter()
        .map(|&set| {
            let rerandomized = r
                .joint_rerandomized
                .iter()
                .find(|j| &j.units == set)
                .and_then(|j| shown(j.test_error));
            let at_checkpoints = result.checkpoints.iter().map(|&epoch| {
                r.joint
                    .iter()
                    .find(|j| &j.units == set && j.checkpoint == epoch)
                    .and_then(|j| shown(j.test_error))
            });
            std::iter::once(rerandomized).chain(at_checkpoints).collect()
        })
        .collect();
    Some(HeatmapData {
        id: "joint",
        title: "Test error, units reset together".into(),
        rows: sets.iter().map(|s| s.join("+")).collect(),
        columns: columns(&result.checkpoints),
        values,
        palette: Palette::Reds,
        format: Format::Percent,
        units_as_columns: false,
        spread: Vec::new(),
    })
}

/// An architecture study's map: one row per run (its axis values), one column per unit name
/// (in the order the runs first name them), each cell the test error with that unit reset to
/// the run's first checkpoint; a unit the run lacks is empty. `None` for a single run.
pub fn study_map(result: &ResultFile) -> Option<HeatmapData> {
    let study = result.study.as_ref()?;
    let columns: Vec<String> = study.unit_columns().into_iter().map(String::from).collect();
    let values = study
        .runs
        .iter()
        .map(|run| {
            columns
                .iter()
                .map(|c| {
                    run.units
                        .iter()
                        .position(|u| u == c)
                        .map(|u| run.reinitialized[u])
                })
                .collect()
        })
        .collect();
    Some(HeatmapData {
        id: "study",
        title: "Study: test error with each unit reset to its run's first checkpoint".into(),
        rows: study.runs.iter().map(|r| r.label(&study.axes)).collect(),
        columns,
        values,
        palette: Palette::Reds,
        format: Format::Percent,
        units_as_columns: false,
        spread: Vec::new(),
    })
}
