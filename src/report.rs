//! Plain-text rendering of a result: the heat maps as tables, for the CLI and for logs.

use crate::engine::result::ResultFile;
use std::fmt::Write;

pub use crate::engine::result::DEFAULT_THRESHOLD;

fn pct(v: f64) -> String {
    if v.is_nan() {
        // Not computed: non-finite weights, or a stopped sweep.
        "n/c".into()
    } else {
        format!("{:.1}%", v * 100.0)
    }
}

/// A units × (ReRnd, checkpoints) table titled `title`, each unit's cells from `cells`.
fn unit_table(result: &ResultFile, title: &str, cells: impl Fn(usize) -> Vec<String>) -> String {
    let mut header = vec![title.to_string(), "ReRnd".to_string()];
    header.extend(result.checkpoints.iter().map(|c| c.to_string()));
    let rows: Vec<Vec<String>> = result
        .units
        .iter()
        .enumerate()
        .map(|(u, name)| std::iter::once(name.clone()).chain(cells(u)).collect())
        .collect();
    table(&header, &rows)
}

/// "critical", or "critical in 4 of 5 seeds" for a multi-seed run.
pub fn verdict_text(result: &ResultFile, unit: usize, threshold: f64) -> String {
    let verdict = result.verdict(unit, threshold).name();
    match result.critical_in_seeds(unit, threshold) {
        Some((critical, judged)) => format!("{verdict} (critical in {critical} of {judged} seeds)"),
        None => verdict.into(),
    }
}

/// A unit's interpolation criticality: its α, or why there is none.
pub fn criticality_text(alpha: f64) -> String {
    if alpha.is_nan() {
        "not within ε".into()
    } else {
        format!("α = {alpha}")
    }
}

fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths = vec![0; columns];
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "{cell:<w$}", w = widths[i]);
            } else {
                let _ = write!(out, "  {cell:>w$}", w = widths[i]);
            }
        }
        out.push('\n');
    }
    out
}

/// The test-error heat map (units × ReRnd/checkpoints plus the fullmodel row) with verdicts,
/// then the two distance maps.
pub fn render(result: &ResultFile, threshold: f64) -> String {
    let mut out = String::new();
    let r = &result.robustness;
    let d = &result.distance;
    let mut header = vec!["test error".to_string(), "ReRnd".to_string()];
    header.extend(result.checkpoints.iter().map(|c| c.to_string()));
    header.push("verdict".into());
    let mut rows: Vec<Vec<String>> = result
        .units
        .iter()
        .enumerate()
        .map(|(u, name)| {
            let mut row = vec![name.clone(), pct(r.rerandomized[u])];
            row.extend(r.reinitialized[u].iter().map(|&e| pct(e)));
            row.push(verdict_text(result, u, threshold));
            row
        })
        .collect();
    let mut full = vec!["fullmodel".to_string(), "-".to_string()];
    full.extend(r.full_model.iter().map(|&e| pct(e)));
    full.push(String::new());
    rows.push(full);
    if let Some(summary) = &result.seed_summary {
        let seeds = result.seed_list();
        let _ = writeln!(
            out,
            "Mean of {} seeds ({}): every map value is the mean over the seeds, ± its sample standard \
             deviation in the spread table below.",
            seeds.len(),
            seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(
            out,
            "Trained model: {} ± {} test error.",
            pct(result.final_test_error),
            pct(summary.std.final_test_error)
        );
    } else {
        let _ = writeln!(out, "Trained model: {} test error.", pct(result.final_test_error));
    }
    let _ = writeln!(
        out,
        "A unit is critical when re-initializing it to checkpoint {} adds more than {:.1} points.",
        result.checkpoints[0],
        threshold * 100.0
    );
    out.push('\n');
    out.push_str(&table(&header, &rows));

    if let Some(summary) = &result.seed_summary {
        let spread = &summary.std.robustness;
        out.push('\n');
        out.push_str(&unit_table(result, "std over seeds", |u| {
            std::iter::once(spread.rerandomized[u])
                .chain(spread.reinitialized[u].iter().copied())
                .map(pct)
                .collect()
        }));
    }
    if let Some(i) = &result.interpolation {
        let mut header = vec!["interpolation α".to_string()];
        header.extend(i.alphas.iter().map(|a| a.to_string()));
        header.push("criticality".into());
        let rows: Vec<Vec<String>> = result
            .units
            .iter()
            .enumerate()
            .map(|(u, name)| {
                let mut row = vec![name.clone()];
                row.extend(i.test_error[u].iter().map(|&e| pct(e)));
                // At the verdicts' threshold, as in the page (the file stores it at its ε).
                row.push(criticality_text(
                    crate::engine::result::Interpolation::criticality_of(
                        &i.alphas,
                        &i.test_error[u],
                        result.final_test_error,
                        threshold,
                    ),
                ));
                row
            })
            .collect();
        let _ = writeln!(
            out,
            "\nTest error with one unit at (1-α)·initial + α·trained; criticality: the smallest α from \
             which on the error stays within {:.1} points of the trained model.",
            threshold * 100.0
        );
        out.push_str(&table(&header, &rows));
    }
    for (title, grid, fresh) in [
        ("l2 relative", &d.l2_relative, &d.rerandomized_l2_relative),
        ("l-inf", &d.linf, &d.rerandomized_linf),
    ] {
        out.push('\n');
        out.push_str(&unit_table(result, title, |u| {
            std::iter::once(fresh[u])
                .chain(grid[u].iter().copied())
                .map(|v| format!("{v:.3}"))
                .collect()
        }));
    }
    if !r.joint.is_empty() || !r.joint_rerandomized.is_empty() {
        out.push_str("\njoint resets\n");
        for j in &r.joint_rerandomized {
            let _ = writeln!(out, "  {{{}}} ReRnd: {}", j.units.join(", "), pct(j.test_error));
        }
        for j in &r.joint {
            let _ = writeln!(
                out,
                "  {{{}}} @ {}: {}",
                j.units.join(", "),
                j.checkpoint,
                pct(j.test_error)
            );
        }
    }
    for note in &result.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    out
}

/// An architecture study: one row per run (its units' test error after resetting each to the
/// first checkpoint, the trained error, and the units that are critical), then the first run's
/// full maps are left to `show` of each run's result.
pub fn render_study(result: &ResultFile, threshold: f64) -> String {
    let mut out = String::new();
    let Some(study) = &result.study else {
        return render(result, threshold);
    };
    let columns = study.unit_columns();
    let mut header = vec!["study run".to_string(), "trained".to_string()];
    header.extend(columns.iter().map(|c| c.to_string()));
    header.push("critical".into());
    let rows: Vec<Vec<String>> = study
        .runs
        .iter()
        .map(|run| {
            let mut row = vec![run.label(&study.axes), pct(run.final_test_error)];
            row.extend(
                columns
                    .iter()
                    .map(|c| match run.units.iter().position(|u| u == c) {
                        Some(u) => pct(run.reinitialized[u]),
                        None => "-".into(),
                    }),
            );
            let critical = run.critical_units(threshold);
            row.push(if critical.is_empty() {
                "none".into()
            } else {
                critical.join(", ")
            });
            row
        })
        .collect();
    let _ = writeln!(
        out,
        "Study of {} runs. Each cell: test error with that unit reset to the run's first checkpoint \
         (0 = its initial weights), every other unit trained; critical: more than {:.1} points above \
         the trained model.\n",
        study.runs.len(),
        threshold * 100.0
    );
    out.push_str(&table(&header, &rows));
    out
}
