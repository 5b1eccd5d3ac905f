//! A line chart in SVG (training curves): axes with round ticks, one polyline per series, dots
//! at the points.

use crate::ui::components::export::ChartExport;
use crate::ui::view::{Series, ticks};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct LineChartProps {
    pub id: &'static str,
    pub title: String,
    pub x_label: String,
    pub series: Vec<Series>,
    /// Show y values as percentages.
    #[prop_or_default]
    pub percent: bool,
    /// Right end of the x axis (e.g. the configured epochs), so the curve grows into it.
    #[prop_or_default]
    pub x_max: Option<f64>,
    /// Draw the points as dots with hover values. Off while a run trains: every new point
    /// re-set the attributes of all the dots (two circles and a title each), and laying them
    /// out again took about 2% of the page's two-thread VGG training from the engine
    /// (BENCHMARKS.md, issue 11); the line alone is cheap.
    #[prop_or(true)]
    pub dots: bool,
}

const W: f64 = 520.0;
const H: f64 = 260.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 42.0;

#[function_component(LineChart)]
pub fn line_chart(props: &LineChartProps) -> Html {
    let hovered = use_state(|| None::<String>);
    let points: Vec<(f64, f64)> = props
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let count = points.len();
    let x_hi = props
        .x_max
        .unwrap_or(0.0)
        .max(points.iter().map(|p| p.0).fold(0.0, f64::max))
        .max(1.0);
    let x_lo = 0.0;
    let y_hi = if count == 0 {
        1.0
    } else {
        points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-6) * 1.05
    };
    let y_lo = 0.0;
    let sx = |x: f64| LEFT + (x - x_lo) / (x_hi - x_lo) * (W - LEFT - RIGHT);
    let sy = |y: f64| TOP + (1.0 - (y - y_lo) / (y_hi - y_lo)) * (H - TOP - BOTTOM);
    let fmt_y = |y: f64| {
        if props.percent {
            format!("{:.0}%", y * 100.0)
        } else if y_hi < 0.1 {
            format!("{y:.3}")
        } else {
            format!("{y:.2}")
        }
    };
    let x_ticks = ticks(x_lo, x_hi, 6).into_iter().map(|t| {
        html! {
            <g>
                <line x1={sx(t).to_string()} x2={sx(t).to_string()} y1={(H - BOTTOM).to_string()} y2={(H - BOTTOM + 5.0).to_string()} stroke="#444"/>
                <text x={sx(t).to_string()} y={(H - BOTTOM + 19.0).to_string()} text-anchor="middle">{ format!("{t}") }</text>
            </g>
        }
    });
    let y_ticks = ticks(y_lo, y_hi, 5).into_iter().map(|t| {
        html! {
            <g>
                <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={sy(t).to_string()} y2={sy(t).to_string()} stroke="#e5e5e5"/>
                <text x={(LEFT - 7.0).to_string()} y={(sy(t) + 4.0).to_string()} text-anchor="end">{ fmt_y(t) }</text>
            </g>
        }
    });
    let lines = props.series.iter().map(|s| {
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let shown = if props.dots { s.points.as_slice() } else { &[] };
        let dots = shown.iter().filter(|(x, y)| x.is_finite() && y.is_finite()).map(|&(x, y)| {
            let text = format!("{} at epoch {x:.2}: {}", s.name, fmt_y(y));
            let enter = {
                let hovered = hovered.clone();
                let text = text.clone();
                Callback::from(move |_: MouseEvent| hovered.set(Some(text.clone())))
            };
            html! {
                <g class="dot" onmouseenter={enter}>
                    // A wider, invisible target than the dot, so hovering is easy.
                    <circle cx={format!("{:.1}", sx(x))} cy={format!("{:.1}", sy(y))} r="9" fill="transparent"/>
                    <circle cx={format!("{:.1}", sx(x))} cy={format!("{:.1}", sy(y))} r="3" fill={s.colour}><title>{ text }</title></circle>
                </g>
            }
        });
        html! {
            <g class="series" data-series={s.name.clone()} data-points={s.points.len().to_string()}>
                <polyline points={path.join(" ")} fill="none" stroke={s.colour} stroke-width="2.5"/>
                { for dots }
            </g>
        }
    });
    let legend = props.series.iter().map(|s| {
        html! { <span class="key"><i style={format!("background:{}", s.colour)}></i>{ s.name.clone() }</span> }
    });
    html! {
        <figure class="chart" data-testid={format!("curve-{}", props.id)} data-points={count.to_string()}>
            <figcaption>{ props.title.clone() }<span class="keys">{ for legend }</span>
                <ChartExport testid={format!("curve-{}", props.id)} name={format!("layerlab-{}", props.id)} /></figcaption>
            <svg viewBox={format!("0 0 {W} {H}")} role="img" aria-label={props.title.clone()}>
                { for y_ticks }
                <line x1={LEFT.to_string()} x2={LEFT.to_string()} y1={TOP.to_string()} y2={(H - BOTTOM).to_string()} stroke="#444"/>
                <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={(H - BOTTOM).to_string()} y2={(H - BOTTOM).to_string()} stroke="#444"/>
                { for x_ticks }
                <text x={((LEFT + W - RIGHT) / 2.0).to_string()} y={(H - 6.0).to_string()} text-anchor="middle" class="axis-label">{ props.x_label.clone() }</text>
                { for lines }
                if count == 0 {
                    <text x={((LEFT + W - RIGHT) / 2.0).to_string()} y={((TOP + H - BOTTOM) / 2.0).to_string()} text-anchor="middle" class="axis-label">{ "no points yet" }</text>
                }
            </svg>
            <div class="hover-value" aria-live="polite" data-testid={format!("curve-{}-hover", props.id)}>
                { (*hovered).clone().unwrap_or_else(|| "hover a point for its value".into()) }
            </div>
        </figure>
    }
}
