//! The results area: training curves, the three heat maps with verdicts, the detail panel and
//! the export buttons.

use crate::engine::events::loss_window;
use crate::engine::result::{Interpolation, ResultFile};
use crate::ui::components::chart::LineChart;
use crate::ui::components::detail::DetailPanel;
use crate::ui::components::heatmap::Heatmap;
use crate::ui::components::help::HelpButton;
use crate::ui::dom;
use crate::ui::state::{LiveRun, Phase};
use crate::ui::view::{self, HeatmapData, Series};
use std::rc::Rc;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct CurvesProps {
    pub run: Option<LiveRun>,
    pub result: Option<Rc<ResultFile>>,
}

/// Train loss and test error per epoch, live during a run.
#[function_component(Curves)]
pub fn curves(props: &CurvesProps) -> Html {
    let live = props.run.as_ref().is_some_and(|r| r.phase.is_active());
    let (loss, errors, epochs) = match (props.run.as_ref().filter(|r| r.phase.is_active()), &props.result) {
        (Some(run), _) => (
            run.loss_points.clone(),
            run.epochs
                .iter()
                .map(|e| (e.epoch as f64, e.test_error))
                .collect::<Vec<_>>(),
            run.config.epochs,
        ),
        (None, Some(r)) => (
            if r.loss_curve.is_empty() {
                r.history
                    .iter()
                    .map(|h| (h.epoch as f64, h.train_loss as f64))
                    .collect()
            } else {
                r.loss_curve.iter().map(|&(x, y)| (x, y as f64)).collect()
            },
            r.initial_test_error
                .map(|e| (0.0, e))
                .into_iter()
                .chain(r.history.iter().map(|h| (h.epoch as f64, h.test_error)))
                .collect(),
            r.config.epochs,
        ),
        (None, None) => return html! {},
    };
    // Each point of the loss curve averages the steps since the previous one.
    let loss_window = loss_window(
        match (props.run.as_ref().filter(|r| r.phase.is_active()), &props.result) {
            (Some(run), _) => run.total_steps,
            (None, Some(r)) => r.train_examples.div_ceil(r.config.batch_size.max(1)) * r.config.epochs,
            _ => 1,
        },
    );
    html! {
        <div class="curves">
            <LineChart id="loss" title={format!("Training loss (mean of the steps since the previous point, about {} steps)", loss_window)} x_label="epoch" x_max={Some(epochs as f64)}
                dots={!live} series={vec![Series { name: "train loss".into(), colour: "#1f5fa8", points: loss }]} />
            <LineChart id="error" title="Test error" x_label="epoch" percent={true} x_max={Some(epochs as f64)}
                series={vec![Series { name: "test error".into(), colour: "#c0392b", points: errors }]} />
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ResultsProps {
    pub run: Option<LiveRun>,
    /// What the maps show: the displayed result, or the picked run of a study.
    pub result: Option<Rc<ResultFile>>,
    /// The displayed file itself (what "Download result" writes), when it is not `result`.
    #[prop_or_default]
    pub file: Option<Rc<ResultFile>>,
    pub selected: Option<(usize, usize)>,
    pub threshold: f64,
    pub on_select: Callback<Option<(usize, usize)>>,
    pub on_threshold: Callback<f64>,
    pub on_error: Callback<String>,
}

fn export(result: &ResultFile, on_error: &Callback<String>) {
    if let Err(e) = dom::download_result(result) {
        on_error.emit(format!("The download failed: {e}"));
    }
}

/// Heat maps of a finished result, or of the sweep in progress.
#[function_component(Results)]
pub fn results(props: &ResultsProps) -> Html {
    let transposed = use_state(|| None::<bool>);
    let sweeping = props
        .run
        .as_ref()
        .filter(|r| r.phase == Phase::Sweeping || (r.phase.is_active() && !r.sweep_cells.is_empty()));
    if let Some(run) = sweeping {
        let map = view::partial_error_map(&run.units, &run.checkpoints, &run.sweep_cells);
        return html! {
            <section class="results">
                <div class="maps"><Heatmap data={map} pending={true} /></div>
            </section>
        };
    }
    let Some(result) = &props.result else {
        return html! {};
    };
    // The paper draws CNN maps with units as columns; FCN maps with units as rows.
    let transpose = (*transposed).unwrap_or(result.units.len() > 8);
    let error = view::error_map(result);
    let [l2, linf] = view::distance_maps(result);
    let joint = view::joint_map(result);
    let interpolation = view::interpolation_map(result);
    let orient = |m: HeatmapData| if transpose { m.transposed() } else { m };
    let on_select = {
        let cb = props.on_select.clone();
        Callback::from(move |(r, c): (usize, usize)| cb.emit(Some(if transpose { (c, r) } else { (r, c) })))
    };
    let selected = props
        .selected
        .map(|(r, c)| if transpose { (c, r) } else { (r, c) });
    let detail = props
        .selected
        .and_then(|(r, c)| view::detail(result, r, c, props.threshold));
    let verdicts = result.units.iter().enumerate().map(|(u, name)| {
        let verdict = result.verdict(u, props.threshold).name();
        let delta = result.robustness.reinitialized[u][0] - result.final_test_error;
        let seeds = result.critical_in_seeds(u, props.threshold);
        // The interpolation's criticality at the verdicts' threshold (the slider moves both).
        let criticality = result.interpolation.as_ref().map(|i| {
            Interpolation::criticality_of(&i.alphas, &i.test_error[u], result.final_test_error, props.threshold)
        });
        html! {
            <li class={verdict} data-testid="verdict" data-unit={name.clone()} data-verdict={verdict}>
                <span class="unit">{ name.clone() }</span>
                <span class="tag">{ verdict }</span>
                <span class="delta">{ if delta.is_nan() { "not computed".to_string() } else { format!("{:+.1} pts", delta * 100.0) } }</span>
                if let Some((critical, judged)) = seeds {
                    <span class="seeds" data-testid="verdict-seeds" title="seeds in which this unit is critical at the threshold">
                        { format!("critical in {critical} of {judged} seeds") }</span>
                }
                if let Some(alpha) = criticality {
                    <span class="criticality" data-testid="criticality" data-alpha={alpha.to_string()}
                          title="the smallest α from which on the unit's error stays within the threshold of the trained model's">
                        { if alpha.is_nan() { "α*: not within".to_string() } else { format!("α* = {alpha}") } }</span>
                }
            </li>
        }
    });
    let on_threshold = {
        let cb = props.on_threshold.clone();
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f64>() {
                cb.emit(v / 100.0);
            }
        })
    };
    let export_json = {
        // The whole file, a study's every run included.
        let result = props.file.clone().unwrap_or_else(|| result.clone());
        let on_error = props.on_error.clone();
        Callback::from(move |_: MouseEvent| export(&result, &on_error))
    };
    let csv_buttons = [error.clone(), l2.clone(), linf.clone()]
        .into_iter()
        .chain(joint.clone())
        .chain(interpolation.clone()).map(|map| {
        let on_error = props.on_error.clone();
        let id = map.id;
        html! {
            <button type="button" data-testid={format!("export-csv-{id}")}
                onclick={Callback::from(move |_: MouseEvent| {
                    if let Err(e) = dom::download(&format!("layerlab-{}.csv", map.id), "text/csv", &map.to_csv()) {
                        on_error.emit(e.to_string());
                    }
                })}>{ format!("CSV: {id}") }</button>
        }
    });
    let flip = {
        let transposed = transposed.clone();
        Callback::from(move |_: MouseEvent| transposed.set(Some(!transpose)))
    };
    let seeds = result.seed_list();
    let summary = format!(
        "{} · trained test error {:.2}% · {} · {:.0} examples/s",
        result.config.label(),
        result.final_test_error * 100.0,
        result.timing.backend,
        result.timing.samples_per_second
    );
    html! {
        <section class="results" data-testid="results">
            <p class="summary" data-testid="summary">{ summary }</p>
            if let Some(spread) = &result.seed_summary {
                <p class="seeds-summary" data-testid="seeds-summary">
                    { format!(
                        "Mean of {} seeds ({}): trained test error {:.2}% ± {:.2} points. Hover a cell for its spread.",
                        seeds.len(),
                        seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                        result.final_test_error * 100.0,
                        spread.std.final_test_error * 100.0
                    ) }
                    <HelpButton topic="seeds" />
                </p>
            }
            { for result.notes.iter().map(|n| html! { <p class="note">{ n.clone() }</p> }) }
            <div class="verdicts">
                <label class="threshold">
                    { format!("critical when error rises more than {:.1} points", props.threshold * 100.0) }
                    <input type="range" min="0" max="50" step="0.5" value={(props.threshold * 100.0).to_string()}
                           oninput={on_threshold} data-testid="threshold"/>
                </label>
                <ul>{ for verdicts }</ul>
            </div>
            <div class="maps">
                <Heatmap data={orient(error)} selected={selected} on_select={Some(on_select)} />
                <Heatmap data={orient(l2)} />
                <Heatmap data={orient(linf)} />
                if let Some(joint) = joint {
                    <Heatmap data={joint} />
                }
                if let Some(interpolation) = interpolation {
                    <Heatmap data={interpolation} />
                }
            </div>
            <DetailPanel detail={detail} />
            <div class="exports">
                <button type="button" class="primary" data-testid="export-json" onclick={export_json}>{ "Download result (JSON)" }</button>
                { for csv_buttons }
                <button type="button" onclick={flip}>{ if transpose { "Units as rows" } else { "Units as columns" } }</button>
            </div>
        </section>
    }
}
