//! A heat map: labelled rows and columns, a sequential colour map from the data's min to max, a
//! legend, the exact value on hover, and a click to select a cell. Maps of ordinary size are SVG
//! (one element per cell, exportable); a map too big for that, such as a hostile file's, is
//! painted on one canvas instead, so its size never turns into hundreds of thousands of DOM
//! nodes.

use crate::ui::components::export::ChartExport;
use crate::ui::components::help::HelpButton;
use crate::ui::view::{HeatmapData, NON_FINITE_COLOUR, colour, text_colour};
use wasm_bindgen::JsCast;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct HeatmapProps {
    pub data: HeatmapData,
    /// Selected `(row, column)`, outlined.
    #[prop_or_default]
    pub selected: Option<(usize, usize)>,
    #[prop_or_default]
    pub on_select: Option<Callback<(usize, usize)>>,
    /// The sweep is still filling this map.
    #[prop_or_default]
    pub pending: bool,
}

const CELL_W: f64 = 64.0;
const CELL_H: f64 = 34.0;
const LABEL_W: f64 = 120.0;
const HEADER_H: f64 = 30.0;

/// The "?" of the page's own maps (not of a comparison's difference map).
fn help_for(id: &'static str) -> Html {
    if matches!(id, "error" | "l2" | "linf" | "joint" | "interpolation" | "study") {
        html! { <HelpButton topic={id} /> }
    } else {
        html! {}
    }
}

/// Maps with more cells than this are painted on a canvas.
pub const SVG_CELL_LIMIT: usize = 600;

#[function_component(Heatmap)]
pub fn heatmap(props: &HeatmapProps) -> Html {
    let cells = props.data.rows.len() * props.data.columns.len();
    if cells > SVG_CELL_LIMIT {
        html! { <CanvasHeatmap data={props.data.clone()} selected={props.selected} on_select={props.on_select.clone()} pending={props.pending} /> }
    } else {
        html! { <SvgHeatmap data={props.data.clone()} selected={props.selected} on_select={props.on_select.clone()}
        pending={props.pending} /> }
    }
}

/// "row · column: exact value" of the hovered cell, when it has a value.
fn hover_text(data: &HeatmapData, hovered: Option<(usize, usize)>) -> Option<String> {
    let (r, c) = hovered?;
    let v = data.values.get(r)?.get(c)?.as_ref()?;
    Some(format!(
        "{} · {}: {}",
        data.rows[r],
        data.columns[c],
        data.exact_text(r, c, *v)
    ))
}

/// Where a canvas map's cells are.
#[derive(Clone, Copy)]
struct Grid {
    left: f64,
    top: f64,
    cell_w: f64,
    cell_h: f64,
    rows: usize,
    cols: usize,
}

impl Grid {
    /// The cell under `(x, y)`.
    fn cell_at(self, x: f64, y: f64) -> Option<(usize, usize)> {
        if x < self.left || y < self.top {
            return None;
        }
        let c = ((x - self.left) / self.cell_w) as usize;
        let r = ((y - self.top) / self.cell_h) as usize;
        (r < self.rows && c < self.cols).then_some((r, c))
    }
}

#[function_component(CanvasHeatmap)]
fn canvas_heatmap(props: &HeatmapProps) -> Html {
    let data = &props.data;
    let canvas = use_node_ref();
    let hovered = use_state(|| None::<(usize, usize)>);
    let (rows, cols) = (data.rows.len(), data.columns.len());
    let cell_w = (1100.0 / cols.max(1) as f64).clamp(4.0, CELL_W);
    let cell_h = (900.0 / rows.max(1) as f64).clamp(3.0, CELL_H);
    let labels = cell_h >= 9.0;
    let left = if labels { LABEL_W } else { 8.0 };
    let width = left + cell_w * cols as f64 + 8.0;
    let height = HEADER_H + cell_h * rows as f64 + 8.0;
    {
        let canvas = canvas.clone();
        use_effect_with((data.clone(), props.selected), move |(data, selected)| {
            if let Some(element) = canvas.cast::<web_sys::HtmlCanvasElement>()
                && let Ok(Some(context)) = element.get_context("2d")
                && let Ok(context) = context.dyn_into::<web_sys::CanvasRenderingContext2d>()
            {
                let (lo, hi) = data.domain();
                context.clear_rect(0.0, 0.0, width, height);
                context.set_font(&format!(
                    "{}px system-ui, sans-serif",
                    (cell_h * 0.6).clamp(8.0, 13.0)
                ));
                for (r, row) in data.values.iter().enumerate() {
                    let y = HEADER_H + cell_h * r as f64;
                    if labels {
                        context.set_fill_style_str("#222");
                        let _ = context.fill_text(&data.rows[r], 4.0, y + cell_h * 0.75);
                    }
                    for (c, value) in row.iter().enumerate() {
                        let fill = match value {
                            None => "#f3f3f3".to_string(),
                            Some(v) if !v.is_finite() => NON_FINITE_COLOUR.to_string(),
                            Some(v) => colour(data.palette, (v - lo) / (hi - lo)),
                        };
                        context.set_fill_style_str(&fill);
                        context.fill_rect(left + cell_w * c as f64, y, cell_w - 0.5, cell_h - 0.5);
                    }
                }
                if let Some((r, c)) = selected {
                    context.set_stroke_style_str("#000");
                    context.stroke_rect(
                        left + cell_w * *c as f64,
                        HEADER_H + cell_h * *r as f64,
                        cell_w,
                        cell_h,
                    );
                }
            }
        });
    }
    let grid = Grid {
        left,
        top: HEADER_H,
        cell_w,
        cell_h,
        rows,
        cols,
    };
    let at = move |e: &MouseEvent| grid.cell_at(e.offset_x() as f64, e.offset_y() as f64);
    let on_move = {
        let hovered = hovered.clone();
        Callback::from(move |e: MouseEvent| hovered.set(at(&e)))
    };
    let on_click = props.on_select.clone().map(|cb| {
        Callback::from(move |e: MouseEvent| {
            if let Some(cell) = at(&e) {
                cb.emit(cell)
            }
        })
    });
    let (lo, hi) = data.domain();
    let hover_text = hover_text(data, *hovered);
    let complete = data.values.iter().flatten().filter(|v| v.is_some()).count();
    html! {
        <figure class="heatmap canvas" data-testid={format!("heatmap-{}", data.id)} data-cells={complete.to_string()}
                data-state={if props.pending { "partial" } else { "done" }} data-render="canvas">
            <figcaption>{ format!("{} ({} × {}, drawn as an image)", data.title, rows, cols) }{ help_for(data.id) }</figcaption>
            <canvas ref={canvas} width={width.to_string()} height={height.to_string()} onmousemove={on_move} onclick={on_click}
                    role="img" aria-label={data.title.clone()}></canvas>
            <div class="hover-value" aria-live="polite">{ hover_text.unwrap_or_else(|| "hover a cell for its exact value".into()) }</div>
            <p class="caption">{ format!("colour scale {} (light) to {} (dark)", data.format.show(lo), data.format.show(hi)) }</p>
        </figure>
    }
}

/// The drawing size of an SVG map, in its own units (it scales to the space it gets).
pub fn svg_size(data: &HeatmapData) -> (f64, f64) {
    let has_non_finite = data.values.iter().flatten().flatten().any(|v| !v.is_finite());
    let width = (LABEL_W + CELL_W * data.columns.len() as f64 + 8.0)
        .max(LABEL_W + if has_non_finite { 520.0 } else { 260.0 });
    (width, HEADER_H + CELL_H * data.rows.len() as f64 + 44.0)
}

#[function_component(SvgHeatmap)]
fn svg_heatmap(props: &HeatmapProps) -> Html {
    let data = &props.data;
    let hovered = use_state(|| None::<(usize, usize)>);
    let (lo, hi) = data.domain();
    let has_non_finite = data.values.iter().flatten().flatten().any(|v| !v.is_finite());
    let (width, height) = svg_size(data);
    let grid_bottom = HEADER_H + CELL_H * data.rows.len() as f64;
    let complete = data.values.iter().flatten().filter(|v| v.is_some()).count();

    let header = data.columns.iter().enumerate().map(|(c, name)| {
        html! {
            <text class="hm-col" x={(LABEL_W + CELL_W * (c as f64 + 0.5)).to_string()} y={(HEADER_H - 10.0).to_string()} text-anchor="middle">{ name.clone() }</text>
        }
    });
    let rows = data.rows.iter().enumerate().map(|(r, name)| {
        let y = HEADER_H + CELL_H * r as f64;
        let cells = data.values[r].iter().enumerate().map(|(c, value)| {
            let x = LABEL_W + CELL_W * c as f64;
            let row_name = name.clone();
            let col_name = data.columns[c].clone();
            // The data attributes name the unit and the checkpoint whichever way the map is drawn.
            let (unit_attr, column_attr) = if data.units_as_columns {
                (col_name.clone(), row_name.clone())
            } else {
                (row_name.clone(), col_name.clone())
            };
            match value {
                None => html! {
                    <g class="hm-empty" data-row={unit_attr} data-col={column_attr}>
                        <rect x={x.to_string()} y={y.to_string()} width={CELL_W.to_string()} height={CELL_H.to_string()} fill="#f3f3f3" stroke="#ffffff"/>
                        <text x={(x + CELL_W / 2.0).to_string()} y={(y + CELL_H / 2.0 + 5.0).to_string()} text-anchor="middle" fill="#999">{ "–" }</text>
                    </g>
                },
                Some(v) if !v.is_finite() => html! {
                    <g class="hm-cell non-finite" data-testid="heatmap-cell" data-row={unit_attr} data-col={column_attr}
                       data-value={v.to_string()}>
                        <title>{ format!("{row_name} · {col_name}: not computed (the weights were not finite)") }</title>
                        <rect x={x.to_string()} y={y.to_string()} width={CELL_W.to_string()} height={CELL_H.to_string()} fill={NON_FINITE_COLOUR} stroke="#ffffff"/>
                        <text x={(x + CELL_W / 2.0).to_string()} y={(y + CELL_H / 2.0 + 5.0).to_string()} text-anchor="middle" fill="#ffffff">{ "n/f" }</text>
                    </g>
                },
                Some(v) => {
                    let t = (v - lo) / (hi - lo);
                    let on_click = props.on_select.clone().map(|cb| Callback::from(move |_: MouseEvent| cb.emit((r, c))));
                    let enter = {
                        let hovered = hovered.clone();
                        Callback::from(move |_: MouseEvent| hovered.set(Some((r, c))))
                    };
                    let selected = props.selected == Some((r, c));
                    html! {
                        <g class={classes!("hm-cell", selected.then_some("selected"))} data-testid="heatmap-cell"
                           data-row={unit_attr} data-col={column_attr} data-value={v.to_string()}
                           onclick={on_click} onmouseenter={enter}>
                            <title>{ format!("{row_name} · {col_name}: {}", data.exact_text(r, c, *v)) }</title>
                            <rect x={x.to_string()} y={y.to_string()} width={CELL_W.to_string()} height={CELL_H.to_string()}
                                  fill={colour(data.palette, t)} stroke={if selected { "#000" } else { "#ffffff" }} stroke-width={if selected { "3" } else { "1" }}/>
                            <text x={(x + CELL_W / 2.0).to_string()} y={(y + CELL_H / 2.0 + 5.0).to_string()} text-anchor="middle" fill={text_colour(t)}>{ data.format.show(*v) }</text>
                        </g>
                    }
                }
            }
        });
        html! {
            <g>
                <text class="hm-row" x={(LABEL_W - 8.0).to_string()} y={(y + CELL_H / 2.0 + 5.0).to_string()} text-anchor="end">{ name.clone() }</text>
                { for cells }
            </g>
        }
    });

    // The legend is drawn in the SVG itself, so exported charts carry it.
    const STEPS: usize = 40;
    let legend_x = LABEL_W;
    let legend_y = grid_bottom + 12.0;
    let ramp = (0..STEPS).map(|i| {
        let x = legend_x + 180.0 * i as f64 / STEPS as f64;
        html! { <rect x={format!("{x:.1}")} y={legend_y.to_string()} width={format!("{:.1}", 180.0 / STEPS as f64 + 0.5)} height="12"
                      fill={colour(data.palette, (i as f64 + 0.5) / STEPS as f64)}/> }
    });
    let hover_text = hover_text(data, *hovered);
    let state = if props.pending { "partial" } else { "done" };

    html! {
        <figure class="heatmap" data-testid={format!("heatmap-{}", data.id)} data-cells={complete.to_string()} data-state={state}
                onmouseleave={{ let hovered = hovered.clone(); Callback::from(move |_: MouseEvent| hovered.set(None)) }}>
            <figcaption>{ data.title.clone() }{ help_for(data.id) }<ChartExport testid={format!("heatmap-{}", data.id)} name={format!("layerlab-{}", data.id)} /></figcaption>
            // Shrinks to fit a phone's width down to 60%, then scrolls (wide CNN maps).
            <svg viewBox={format!("0 0 {width} {height}")} width={width.to_string()} height={height.to_string()} role="img" aria-label={data.title.clone()}
                 style={format!("min-width:{:.0}px", width * 0.6)}>
                { for header }
                { for rows }
                <g class="legend">
                    <text x={(legend_x - 8.0).to_string()} y={(legend_y + 11.0).to_string()} text-anchor="end">{ data.format.show(lo) }</text>
                    { for ramp }
                    <rect x={legend_x.to_string()} y={legend_y.to_string()} width="180" height="12" fill="none" stroke="#999"/>
                    <text x={(legend_x + 188.0).to_string()} y={(legend_y + 11.0).to_string()}>{ data.format.show(hi) }</text>
                    if has_non_finite {
                        <g data-testid="legend-non-finite">
                            <rect x={(legend_x + 250.0).to_string()} y={legend_y.to_string()} width="14" height="12" fill={NON_FINITE_COLOUR}/>
                            <text x={(legend_x + 270.0).to_string()} y={(legend_y + 11.0).to_string()}>{ "n/f: weights not finite (diverged)" }</text>
                        </g>
                    }
                </g>
            </svg>
            <div class="hover-value" aria-live="polite">{ hover_text.unwrap_or_else(|| "hover a cell for its exact value".into()) }</div>
        </figure>
    }
}
