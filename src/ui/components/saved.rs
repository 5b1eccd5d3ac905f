//! The saved-runs list: open, rename, delete, tick two to compare, import a file.

use crate::ui::state::RunSummary;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct SavedProps {
    pub runs: Vec<RunSummary>,
    pub picked: Vec<u32>,
    /// The saved run on display.
    pub current: Option<u32>,
    pub on_open: Callback<u32>,
    pub on_rename: Callback<u32>,
    pub on_delete: Callback<u32>,
    pub on_pick: Callback<u32>,
    pub on_compare: Callback<()>,
    pub on_import: Callback<web_sys::File>,
}

fn date(ms: f64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

#[function_component(SavedRuns)]
pub fn saved_runs(props: &SavedProps) -> Html {
    let rows = props.runs.iter().map(|run| {
        let id = run.id;
        let cb = |c: &Callback<u32>| {
            let c = c.clone();
            Callback::from(move |_: MouseEvent| c.emit(id))
        };
        let pick = {
            let c = props.on_pick.clone();
            Callback::from(move |_: Event| c.emit(id))
        };
        html! {
            <li class={classes!("saved-run", (props.current == Some(id)).then_some("current"))} data-testid="saved-run" data-id={id.to_string()}>
                <input type="checkbox" checked={props.picked.contains(&id)} onchange={pick} title="tick two runs to compare"/>
                <button type="button" class="link" onclick={cb(&props.on_open)}>
                    <span class="name" data-testid="saved-run-name">{ run.name.clone() }</span>
                    <span class="meta">{ format!("{} · {} · error {} · {}", date(run.saved_at), run.label,
                        if run.final_error.is_finite() { format!("{:.2}%", run.final_error * 100.0) } else { "not computed".into() }, run.source.name()) }</span>
                </button>
                <button type="button" title="rename" onclick={cb(&props.on_rename)}>{ "Rename" }</button>
                <button type="button" title="delete" onclick={cb(&props.on_delete)}>{ "Delete" }</button>
            </li>
        }
    });
    let on_import = props.on_import.clone();
    let choose = Callback::from(move |e: Event| {
        let input: web_sys::HtmlInputElement = e.target_unchecked_into();
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            on_import.emit(file);
        }
        input.set_value("");
    });
    let compare = props.on_compare.clone();
    html! {
        <section class="saved" aria-label="saved runs">
            <h2>{ "Saved runs" }</h2>
            if props.runs.is_empty() {
                <p class="muted">{ "Finished runs are kept here, in this browser." }</p>
            }
            <ul data-testid="saved-runs">{ for rows }</ul>
            <div class="saved-actions">
                <button type="button" data-testid="compare" disabled={props.picked.len() != 2}
                        onclick={Callback::from(move |_: MouseEvent| compare.emit(()))}>{ "Compare the two ticked" }</button>
                <label class="import">
                    { "Open a result file (JSON) or a CIFAR-10 archive: " }
                    <input type="file" accept=".json,application/json,.gz,.tgz,.tar" data-testid="import-file" onchange={choose}/>
                </label>
                <p class="muted">{ "…or drop it anywhere on the page." }</p>
            </div>
        </section>
    }
}
