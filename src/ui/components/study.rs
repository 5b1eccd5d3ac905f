//! An architecture study's grid: one row per run (each unit's error reset to checkpoint 0) with
//! the units that are critical; a click on a row shows that run's curves and maps below.

use crate::engine::result::ResultFile;
use crate::ui::components::heatmap::Heatmap;
use crate::ui::dom;
use crate::ui::view;
use std::rc::Rc;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct StudyProps {
    pub file: Rc<ResultFile>,
    /// The run shown below.
    pub pick: usize,
    pub threshold: f64,
    pub on_pick: Callback<usize>,
    pub on_error: Callback<String>,
}

#[function_component(StudyPanel)]
pub fn study_panel(props: &StudyProps) -> Html {
    let (Some(study), Some(map)) = (&props.file.study, view::study_map(&props.file)) else {
        return html! {};
    };
    let pick = props.pick.min(study.runs.len().saturating_sub(1));
    let on_select = {
        let on_pick = props.on_pick.clone();
        Callback::from(move |(row, _): (usize, usize)| on_pick.emit(row))
    };
    let rows = study.runs.iter().enumerate().map(|(i, run)| {
        let critical = run.critical_units(props.threshold);
        let on_pick = props.on_pick.clone();
        html! {
            <li data-testid="study-row" data-run={run.label(&study.axes)} data-critical={critical.join(",")}
                class={classes!((i == pick).then_some("picked"))}>
                <button type="button" class="link" onclick={Callback::from(move |_: MouseEvent| on_pick.emit(i))}>
                    <span class="unit">{ run.label(&study.axes) }</span>
                    { format!(" trained {:.1}% · critical: {}", run.final_test_error * 100.0,
                        if critical.is_empty() { "none".to_string() } else { critical.join(", ") }) }
                </button>
            </li>
        }
    });
    let shown = study.runs[pick].label(&study.axes);
    // A link keeps every row but only the first run's whole result.
    let whole = study.runs[pick].result.is_some() || pick == 0;
    let csv = {
        let map = map.clone();
        let on_error = props.on_error.clone();
        Callback::from(move |_: MouseEvent| {
            if let Err(e) = dom::download("layerlab-study.csv", "text/csv", &map.to_csv()) {
                on_error.emit(e.to_string());
            }
        })
    };
    html! {
        <section class="study" data-testid="study">
            <p class="summary">{ format!("A study of {} runs. Click a run to show its curves and maps below.", study.runs.len()) }</p>
            <Heatmap data={map} selected={Some((pick, 0))} on_select={Some(on_select)} />
            <ul class="study-rows">{ for rows }</ul>
            if whole {
                <p class="note" data-testid="study-shown">{ format!("Below: the curves and maps of {shown}.") }</p>
            } else {
                <p class="note" data-testid="study-shown">{ format!("A link holds each run's row but only the first run's maps, which are below; the study's file holds the maps of {shown} and every other run.") }</p>
            }
            <button type="button" data-testid="export-csv-study" onclick={csv}>{ "CSV: study" }</button>
        </section>
    }
}
