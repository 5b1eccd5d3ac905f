//! The experiment form: presets, every config key (named like the CLI flags), backend, and the
//! Run / Stop buttons.

use crate::engine::config::{KEYS, ModelKind, PRESETS};
use crate::runtime::protocol::BackendChoice;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub form: Vec<(String, String)>,
    pub config_error: Option<String>,
    pub backend: BackendChoice,
    pub running: bool,
    pub stopping: bool,
    /// The reset sweep is under way (Stop then ends the sweep, keeping its cells).
    pub sweeping: bool,
    pub can_run: bool,
    pub on_field: Callback<(String, String)>,
    pub on_preset: Callback<String>,
    pub on_backend: Callback<BackendChoice>,
    pub on_run: Callback<()>,
    pub on_stop: Callback<()>,
}

fn choices(key: &str) -> Option<Vec<&'static str>> {
    match key {
        "model" => Some(ModelKind::ALL.iter().map(|m| m.name()).collect()),
        "dataset" => Some(vec!["mnist", "cifar10"]),
        "optimizer" => Some(vec!["sgd", "adam"]),
        "batch-norm" | "augment" => Some(vec!["false", "true"]),
        _ => None,
    }
}

/// Keys shown only for one model family.
fn relevant(key: &str, model: &str) -> bool {
    let cnn = model != "fcn";
    match key {
        "depth" | "width" => !cnn,
        "width-mult" | "batch-norm" => cnn,
        _ => true,
    }
}

#[function_component(Controls)]
pub fn controls(props: &ControlsProps) -> Html {
    let model = props
        .form
        .iter()
        .find(|(k, _)| k == "model")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let presets = PRESETS.iter().map(|(name, description)| {
        let on_preset = props.on_preset.clone();
        let name_owned = name.to_string();
        html! {
            <button type="button" class="preset" title={*description} data-testid={format!("preset-{name}")}
                    disabled={props.running} onclick={Callback::from(move |_| on_preset.emit(name_owned.clone()))}>
                { *name }
            </button>
        }
    });
    let fields = props
        .form
        .iter()
        .filter(|(k, _)| relevant(k, &model))
        .map(|(key, value)| {
            let help = KEYS.iter().find(|(k, _)| k == key).map(|(_, h)| *h).unwrap_or("");
            let id = format!("field-{key}");
            let control = match choices(key) {
                Some(options) => {
                    let on_field = props.on_field.clone();
                    let k = key.clone();
                    let onchange = Callback::from(move |e: Event| {
                        let select: HtmlSelectElement = e.target_unchecked_into();
                        on_field.emit((k.clone(), select.value()));
                    });
                    html! {
                        <select id={id.clone()} name={key.clone()} {onchange} disabled={props.running}>
                            { for options.into_iter().map(|o| html! { <option value={o} selected={o == value.as_str()}>{ o }</option> }) }
                        </select>
                    }
                }
                None => {
                    let on_field = props.on_field.clone();
                    let k = key.clone();
                    let oninput = Callback::from(move |e: InputEvent| {
                        let input: HtmlInputElement = e.target_unchecked_into();
                        on_field.emit((k.clone(), input.value()));
                    });
                    html! { <input id={id.clone()} name={key.clone()} type="text" value={value.clone()} {oninput} disabled={props.running} spellcheck="false"/> }
                }
            };
            html! {
                <label class="field" for={id} title={help}>
                    <span>{ key.clone() }</span>
                    { control }
                </label>
            }
        });
    let on_backend = props.on_backend.clone();
    let backend_change = Callback::from(move |e: Event| {
        let select: HtmlSelectElement = e.target_unchecked_into();
        on_backend.emit(BackendChoice::parse(&select.value()).unwrap_or_default());
    });
    let on_run = props.on_run.clone();
    let on_stop = props.on_stop.clone();
    html! {
        <section class="controls" aria-label="experiment">
            <div class="presets">{ for presets }</div>
            <div class="fields">{ for fields }</div>
            <label class="field" for="field-backend">
                <span>{ "backend" }</span>
                <select id="field-backend" onchange={backend_change} disabled={props.running}>
                    { for [BackendChoice::Auto, BackendChoice::Webgpu, BackendChoice::Cpu].into_iter().map(|b| html! {
                        <option value={b.name()} selected={b == props.backend}>{ b.name() }</option>
                    }) }
                </select>
            </label>
            if let Some(error) = &props.config_error {
                <p class="config-error" role="alert" data-testid="config-error">{ error.clone() }</p>
            }
            <div class="actions">
                <button type="button" class="run" data-testid="run" disabled={!props.can_run}
                        onclick={Callback::from(move |_| on_run.emit(()))}>{ "Run" }</button>
                <button type="button" class="stop" data-testid="stop" disabled={!props.running || props.stopping}
                        onclick={Callback::from(move |_| on_stop.emit(()))}>
                    { if props.stopping { "Stopping…" } else if props.sweeping { "Stop sweep" } else { "Stop" } }
                </button>
            </div>
        </section>
    }
}
