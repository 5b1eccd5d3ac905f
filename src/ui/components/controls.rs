//! The experiment form: presets, every config key (named like the CLI flags, drawn as its
//! declaration says), backend, and the Run / Stop buttons.

use crate::engine::config::Control;
use crate::engine::presets::PRESETS;
use crate::runtime::protocol::BackendChoice;
use crate::ui::state::Form;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub form: Form,
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

#[function_component(Controls)]
pub fn controls(props: &ControlsProps) -> Html {
    let model = props.form.model();
    let presets = PRESETS.iter().map(|preset| {
        let on_preset = props.on_preset.clone();
        let name = preset.name;
        html! {
            <button type="button" class="preset" title={preset.description} data-testid={format!("preset-{name}")}
                    disabled={props.running} onclick={Callback::from(move |_| on_preset.emit(name.to_string()))}>
                { name }
            </button>
        }
    });
    let fields = props
        .form
        .fields()
        .filter(|(key, _)| key.family.includes(model))
        .map(|(key, value)| {
            let name = key.name;
            let id = format!("field-{name}");
            let on_field = props.on_field.clone();
            let control = match key.control {
                Control::Choice(options) => {
                    let onchange = Callback::from(move |e: Event| {
                        let select: HtmlSelectElement = e.target_unchecked_into();
                        on_field.emit((name.to_string(), select.value()));
                    });
                    html! {
                        <select id={id.clone()} {name} {onchange} disabled={props.running}>
                            { for options.iter().map(|&o| html! { <option value={o} selected={o == value}>{ o }</option> }) }
                        </select>
                    }
                }
                Control::Text => {
                    let oninput = Callback::from(move |e: InputEvent| {
                        let input: HtmlInputElement = e.target_unchecked_into();
                        on_field.emit((name.to_string(), input.value()));
                    });
                    html! { <input id={id.clone()} {name} type="text" value={value.to_string()} {oninput} disabled={props.running} spellcheck="false"/> }
                }
            };
            html! {
                <label class="field" for={id} title={key.help}>
                    <span>{ name }</span>
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
