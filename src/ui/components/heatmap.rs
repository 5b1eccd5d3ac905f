//! A heat map in SVG: labelled rows and columns, a sequential colour map from the data's min
//! to max, a legend, the exact value on hover, and a click to select a cell.

use crate::ui::components::export::ChartExport;
use crate::ui::view::{HeatmapData, colour, text_colour};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct HeatmapProps {
    pub data: HeatmapData,
    /// Selected `(row, column)`, outlined.
    #[prop_or_default]
    pub selected: Option<(usize, usize)>,
    #[prop_or_default]
    pub on_select: Option<Callback<(usize, usize)>>,
    /// Text under the map (e.g. verdict legend).
    #[prop_or_default]
    pub caption: Option<String>,
    /// The sweep is still filling this map.
    #[prop_or_default]
    pub pending: bool,
}

const CELL_W: f64 = 64.0;
const CELL_H: f64 = 34.0;
const LABEL_W: f64 = 120.0;
const HEADER_H: f64 = 30.0;

#[function_component(Heatmap)]
pub fn heatmap(props: &HeatmapProps) -> Html {
    let data = &props.data;
    let hovered = use_state(|| None::<(usize, usize)>);
    let (lo, hi) = data.domain();
    let width = (LABEL_W + CELL_W * data.columns.len() as f64 + 8.0).max(LABEL_W + 260.0);
    let grid_bottom = HEADER_H + CELL_H * data.rows.len() as f64;
    let height = grid_bottom + 44.0;
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
                            <title>{ format!("{row_name} · {col_name}: {}", data.format.exact(*v)) }</title>
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
    let hover_text = (*hovered).and_then(|(r, c)| {
        let v = data.values.get(r)?.get(c)?.as_ref()?;
        Some(format!(
            "{} · {}: {}",
            data.rows[r],
            data.columns[c],
            data.format.exact(*v)
        ))
    });
    let state = if props.pending { "partial" } else { "done" };

    html! {
        <figure class="heatmap" data-testid={format!("heatmap-{}", data.id)} data-cells={complete.to_string()} data-state={state}
                onmouseleave={{ let hovered = hovered.clone(); Callback::from(move |_: MouseEvent| hovered.set(None)) }}>
            <figcaption>{ data.title.clone() }<ChartExport testid={format!("heatmap-{}", data.id)} name={format!("layerlab-{}", data.id)} /></figcaption>
            <svg viewBox={format!("0 0 {width} {height}")} width={width.to_string()} height={height.to_string()} role="img" aria-label={data.title.clone()}>
                { for header }
                { for rows }
                <g class="legend">
                    <text x={(legend_x - 8.0).to_string()} y={(legend_y + 11.0).to_string()} text-anchor="end">{ data.format.show(lo) }</text>
                    { for ramp }
                    <rect x={legend_x.to_string()} y={legend_y.to_string()} width="180" height="12" fill="none" stroke="#999"/>
                    <text x={(legend_x + 188.0).to_string()} y={(legend_y + 11.0).to_string()}>{ data.format.show(hi) }</text>
                </g>
            </svg>
            <div class="hover-value" aria-live="polite">{ hover_text.unwrap_or_else(|| "hover a cell for its exact value".into()) }</div>
            if let Some(caption) = &props.caption {
                <p class="caption">{ caption.clone() }</p>
            }
        </figure>
    }
}
