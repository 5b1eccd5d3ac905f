//! SVG and PNG download buttons for a chart.

use crate::ui::dom;
use yew::prelude::*;

/// Where components report problems (provided by the app as a context).
#[derive(Clone, PartialEq)]
pub struct NoticeSink(pub Callback<String>);

#[derive(Properties, PartialEq)]
pub struct ExportProps {
    /// `data-testid` of the figure holding the chart's `<svg>`.
    pub testid: String,
    /// File name without extension.
    pub name: String,
}

#[function_component(ChartExport)]
pub fn chart_export(props: &ExportProps) -> Html {
    let sink = use_context::<NoticeSink>();
    let report = move |message: String| {
        if let Some(NoticeSink(cb)) = &sink {
            cb.emit(message);
        }
    };
    let svg = {
        let (testid, name, report) = (props.testid.clone(), props.name.clone(), report.clone());
        Callback::from(move |_: MouseEvent| {
            if let Err(e) = dom::export_svg(&testid, &format!("{name}.svg")) {
                report(e.to_string());
            }
        })
    };
    let png = {
        let (testid, name) = (props.testid.clone(), props.name.clone());
        Callback::from(move |_: MouseEvent| {
            if let Err(e) = dom::export_png(&testid, &format!("{name}.png"), report.clone()) {
                report(e.to_string());
            }
        })
    };
    html! {
        <span class="chart-export">
            <button type="button" onclick={svg} data-testid={format!("svg-{}", props.testid)}>{ "SVG" }</button>
            <button type="button" onclick={png} data-testid={format!("png-{}", props.testid)}>{ "PNG" }</button>
        </span>
    }
}
