//! Line charts: series and axis ticks.

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
