//! View models: what the charts draw, derived from a result (or a run in progress). Pure
//! functions, tested natively; the yew components only turn them into SVG. This file holds a
//! heat map's data and colours; `maps` builds the maps, `detail` a cell's detail, `chart` the
//! line charts' axes.

mod chart;
mod detail;
mod maps;
#[cfg(test)]
mod tests;

pub use chart::{Series, ticks};
pub use detail::{Detail, detail};
pub use maps::{
    columns, difference_map, distance_maps, error_map, interpolation_map, joint_map, partial_error_map,
    plan_index, study_map,
};

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
    /// A multi-seed run's spread of each value, shaped like `values`; empty for one seed.
    pub spread: Vec<Vec<Option<Spread>>>,
}

/// How a mean value of a multi-seed run scatters over its seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Sample standard deviation.
    pub std: f64,
    pub min: f64,
    pub max: f64,
    pub seeds: usize,
}

impl Spread {
    /// "± 1.20 points (9.8% to 12.4%) over 5 seeds".
    pub fn text(&self, format: Format) -> String {
        let std = match format {
            Format::Percent | Format::Points => format!("{:.2} points", self.std * 100.0),
            Format::Decimal => Format::Decimal.show(self.std),
        };
        format!(
            "± {std} ({} to {}) over {} seeds",
            format.show(self.min),
            format.show(self.max),
            self.seeds
        )
    }
}

impl HeatmapData {
    /// The spread of cell `(row, column)`, for a multi-seed run.
    pub fn spread_at(&self, row: usize, column: usize) -> Option<Spread> {
        *self.spread.get(row)?.get(column)?
    }

    /// The exact value of a cell for its tooltip, with its spread over the seeds.
    pub fn exact_text(&self, row: usize, column: usize, value: f64) -> String {
        match self.spread_at(row, column) {
            Some(spread) => format!("mean {}, {}", self.format.exact(value), spread.text(self.format)),
            None => self.format.exact(value),
        }
    }
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
        let mut spread = if self.spread.is_empty() {
            Vec::new()
        } else {
            vec![vec![None; self.rows.len()]; self.columns.len()]
        };
        for (r, row) in self.spread.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                spread[c][r] = *v;
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
            spread,
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
