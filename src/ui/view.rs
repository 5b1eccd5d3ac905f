//! View models: what the charts draw, derived from a result (or a run in progress). Pure
//! functions, tested natively; the yew components only turn them into SVG.

use crate::engine::events::Cell;
use crate::engine::result::ResultFile;
use std::collections::HashMap;

/// Which colour map a heat map uses: red for test error (the paper's), blue for distances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Palette {
    Reds,
    Blues,
    /// Blue (negative) – white (zero) – red (positive), for differences.
    Diverging,
}

/// How values are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Percent,
    Decimal,
    /// A difference of error rates, in percentage points.
    Points,
}

impl Format {
    pub fn show(self, v: f64) -> String {
        match self {
            Format::Percent => format!("{:.1}%", v * 100.0),
            Format::Decimal => {
                if v != 0.0 && v.abs() < 0.001 {
                    format!("{v:.1e}")
                } else {
                    format!("{v:.3}")
                }
            }
            Format::Points => format!("{:+.1}", v * 100.0),
        }
    }

    /// The exact value, for tooltips.
    pub fn exact(self, v: f64) -> String {
        match self {
            Format::Percent => format!("{:.2}% ({v})", v * 100.0),
            Format::Decimal => format!("{v}"),
            Format::Points => format!("{:+.2} points ({v})", v * 100.0),
        }
    }
}

/// One heat map: rows × columns of optional values (None = not applicable or not yet known).
#[derive(Clone, Debug, PartialEq)]
pub struct HeatmapData {
    pub id: &'static str,
    pub title: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    pub values: Vec<Vec<Option<f64>>>,
    pub palette: Palette,
    pub format: Format,
    /// Drawn with units as columns (after `transposed`); `rows` are then the checkpoints.
    pub units_as_columns: bool,
}

impl HeatmapData {
    /// The colour scale's domain: the smallest and largest value shown (as in the paper).
    pub fn domain(&self) -> (f64, f64) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for v in self.values.iter().flatten().flatten().filter(|v| v.is_finite()) {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        if self.palette == Palette::Diverging {
            let m = lo.abs().max(hi.abs()).max(1e-12);
            return (-m, m);
        }
        if hi - lo < 1e-12 {
            return (lo, lo + 1e-12);
        }
        (lo, hi)
    }

    /// Swaps rows and columns (the paper draws CNN maps with units as columns).
    pub fn transposed(&self) -> Self {
        let mut values = vec![vec![None; self.rows.len()]; self.columns.len()];
        for (r, row) in self.values.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                values[c][r] = *v;
            }
        }
        Self {
            id: self.id,
            title: self.title.clone(),
            rows: self.columns.clone(),
            columns: self.rows.clone(),
            values,
            palette: self.palette,
            format: self.format,
            units_as_columns: !self.units_as_columns,
        }
    }

    /// Values as CSV (header row, then one row per heat-map row). Labels come from files and
    /// links, so they are neutralised with [`csv_text`].
    pub fn to_csv(&self) -> String {
        let quote = csv_text;
        let mut out = String::from("row");
        for c in &self.columns {
            out.push(',');
            out.push_str(&quote(c));
        }
        out.push('\n');
        for (r, row) in self.rows.iter().enumerate() {
            out.push_str(&quote(row));
            for v in &self.values[r] {
                out.push(',');
                if let Some(v) = v {
                    out.push_str(&v.to_string());
                }
            }
            out.push('\n');
        }
        out
    }
}

/// A text cell that spreadsheet tools read as text: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return would start a formula, so it gets a leading `'` (OWASP's advice for CSV
/// injection), and a cell holding a comma, quote or line break (a bare `\r` included) is quoted.
pub fn csv_text(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The colour of a cell whose value is not finite (computed from diverged weights).
pub const NON_FINITE_COLOUR: &str = "#7a7a7a";

/// Interpolates a sequential colour map at `t` in [0, 1] (ColorBrewer Reds / Blues anchors).
pub fn colour(palette: Palette, t: f64) -> String {
    const REDS: [(u8, u8, u8); 5] = [
        (255, 245, 240),
        (252, 187, 161),
        (251, 106, 74),
        (203, 24, 29),
        (103, 0, 13),
    ];
    const BLUES: [(u8, u8, u8); 5] = [
        (247, 251, 255),
        (198, 219, 239),
        (107, 174, 214),
        (33, 113, 181),
        (8, 48, 107),
    ];
    const DIVERGING: [(u8, u8, u8); 5] = [
        (33, 102, 172),
        (146, 197, 222),
        (247, 247, 247),
        (244, 165, 130),
        (178, 24, 43),
    ];
    let anchors = match palette {
        Palette::Reds => &REDS,
        Palette::Blues => &BLUES,
        Palette::Diverging => &DIVERGING,
    };
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * (anchors.len() - 1) as f64;
    let i = (x.floor() as usize).min(anchors.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (anchors[i], anchors[i + 1]);
    format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black or white text, whichever reads on `t` of the palette.
pub fn text_colour(t: f64) -> &'static str {
    if t > 0.55 { "#ffffff" } else { "#111111" }
}

/// Column labels: `ReRnd`, then each checkpoint.
pub fn columns(checkpoints: &[usize]) -> Vec<String> {
    std::iter::once("ReRnd".to_string())
        .chain(checkpoints.iter().map(|c| c.to_string()))
        .collect()
}

/// The test-error map of a finished result: units plus `fullmodel` × ReRnd plus checkpoints.
pub fn error_map(result: &ResultFile) -> HeatmapData {
    let r = &result.robustness;
    // Cells a stopped sweep never reached are unknown (None), unlike NaN ones (not finite).
    let computed = |cell: Cell, value: f64| -> Option<f64> {
        let index = plan_index(result.units.len(), result.checkpoints.len(), cell);
        match result.sweep_cells_done {
            Some(done) if index >= done => None,
            _ => Some(value),
        }
    };
    let mut values: Vec<Vec<Option<f64>>> = result
        .units
        .iter()
        .enumerate()
        .map(|(u, _)| {
            std::iter::once(computed(Cell::Rerandomized { unit: u }, r.rerandomized[u]))
                .chain(r.reinitialized[u].iter().enumerate().map(|(c, &e)| {
                    computed(
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
                    .map(|(c, &e)| computed(Cell::FullModel { checkpoint: c }, e)),
            )
            .collect(),
    );
    let mut rows = result.units.clone();
    rows.push("fullmodel".into());
    HeatmapData {
        id: "error",
        title: "Test error after resetting a unit".into(),
        rows,
        columns: columns(&result.checkpoints),
        values,
        palette: Palette::Reds,
        format: Format::Percent,
        units_as_columns: false,
    }
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
    })
}

/// Where a unit or full-model cell stands in [`crate::engine::events::plan`]'s order.
pub fn plan_index(units: usize, checkpoints: usize, cell: Cell) -> usize {
    match cell {
        Cell::Rerandomized { unit } => unit * (checkpoints + 1),
        Cell::Reinitialized { unit, checkpoint } => unit * (checkpoints + 1) + 1 + checkpoint,
        Cell::FullModel { checkpoint } => units * (checkpoints + 1) + checkpoint,
        Cell::Joint { .. } | Cell::JointRerandomized { .. } => usize::MAX,
    }
}

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
}

/// The detail of `(row, column)` of [`error_map`], if that cell has a value.
pub fn detail(result: &ResultFile, row: usize, column: usize) -> Option<Detail> {
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
    Some(Detail {
        title,
        error,
        baseline: result.final_test_error,
        per_class,
        distance,
    })
}

/// A polyline chart's data: named series of `(x, y)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// "Nice" axis ticks covering `[lo, hi]` (about `count` of them).
pub fn ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || count == 0 {
        return vec![lo];
    }
    let raw = (hi - lo) / count as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil();
    (0..50)
        .map(|i| ((first + i as f64) * step * 1e9).round() / 1e9)
        .take_while(|t| *t <= hi + step * 1e-9)
        .map(|t| if t == 0.0 { 0.0 } else { t })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_span_the_palette() {
        assert_eq!(colour(Palette::Reds, 0.0), "#fff5f0");
        assert_eq!(colour(Palette::Reds, 1.0), "#67000d");
        assert_eq!(colour(Palette::Blues, 2.0), "#08306b");
        assert_eq!(colour(Palette::Blues, f64::NAN), "#f7fbff");
    }

    /// The colour maps through a colour-vision-deficiency simulator (Machado, Oliveira & Fernandes
    /// 2009, full severity): each ramp stays ordered by lightness for protanopes, deuteranopes
    /// and tritanopes, and the "not finite" colour stays apart from every ramp colour (its cells
    /// also carry the text "n/f").
    #[test]
    fn colour_maps_stay_readable_for_colour_blind_viewers() {
        const SIMULATORS: [(&str, [[f64; 3]; 3]); 3] = [
            (
                "protanopia",
                [
                    [0.152286, 1.052583, -0.204868],
                    [0.114503, 0.786281, 0.099216],
                    [-0.003882, -0.048116, 1.051998],
                ],
            ),
            (
                "deuteranopia",
                [
                    [0.367322, 0.860646, -0.227968],
                    [0.280085, 0.672501, 0.047413],
                    [-0.011820, 0.042940, 0.968881],
                ],
            ),
            (
                "tritanopia",
                [
                    [1.255528, -0.076749, -0.178779],
                    [-0.078411, 0.930809, 0.147602],
                    [0.004733, 0.691367, 0.303900],
                ],
            ),
        ];
        let linear = |hex: &str| -> [f64; 3] {
            let v = |i: usize| {
                let c = u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap() as f64 / 255.0;
                if c <= 0.04045 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            };
            [v(0), v(1), v(2)]
        };
        let simulate = |m: &[[f64; 3]; 3], c: [f64; 3]| -> [f64; 3] {
            let row = |r: &[f64; 3]| (r[0] * c[0] + r[1] * c[1] + r[2] * c[2]).clamp(0.0, 1.0);
            [row(&m[0]), row(&m[1]), row(&m[2])]
        };
        let lightness = |c: [f64; 3]| 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
        for (name, m) in &SIMULATORS {
            for palette in [Palette::Reds, Palette::Blues] {
                let ramp: Vec<[f64; 3]> = (0..=20)
                    .map(|i| simulate(m, linear(&colour(palette, i as f64 / 20.0))))
                    .collect();
                for pair in ramp.windows(2) {
                    assert!(
                        lightness(pair[1]) < lightness(pair[0]),
                        "{name}: {palette:?} is not ordered by lightness"
                    );
                }
                let special = simulate(m, linear(NON_FINITE_COLOUR));
                let nearest = ramp
                    .iter()
                    .map(|c| (0..3).map(|i| (c[i] - special[i]).powi(2)).sum::<f64>().sqrt())
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    nearest > 0.05,
                    "{name}: the n/f colour is {nearest} from {palette:?}"
                );
            }
        }
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(ticks(0.0, 100.0, 4), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(ticks(1.0, 1.0, 4), vec![1.0]);
    }

    #[test]
    fn transposition_and_csv() {
        let map = HeatmapData {
            id: "error",
            title: "t".into(),
            rows: vec!["a".into(), "b".into()],
            columns: vec!["ReRnd".into(), "0".into(), "1".into()],
            values: vec![
                vec![Some(0.5), Some(0.25), None],
                vec![None, Some(1.0), Some(0.0)],
            ],
            palette: Palette::Reds,
            format: Format::Percent,
            units_as_columns: false,
        };
        let t = map.transposed();
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.values[1][0], Some(0.25));
        assert_eq!(map.to_csv(), "row,ReRnd,0,1\na,0.5,0.25,\nb,,1,0\n");
        assert_eq!(csv_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_text("+1"), "'+1");
        assert_eq!(csv_text("-2"), "'-2");
        assert_eq!(csv_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_text("a\rb"), "\"a\rb\"");
        assert_eq!(csv_text("\tx"), "'\tx");
        assert_eq!(csv_text("layer1"), "layer1");
        assert_eq!(map.domain(), (0.0, 1.0));
    }
}
