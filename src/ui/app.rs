//! The root component: one reducer-style state, the engine worker, the address bar.

use crate::runtime::protocol::{FromWorker, ToWorker};
use crate::ui::components::controls::Controls;
use crate::ui::components::progress::Progress;
use crate::ui::components::results::{Curves, Results};
use crate::ui::dom;
use crate::ui::state::{Action, AppState, Notice, Phase, WorkerStatus};
use crate::ui::url;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new((*self).clone().apply(action))
    }
}

/// The engine's worker and its event handlers (dropping it terminates the worker).
struct EngineWorker {
    worker: web_sys::Worker,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl Drop for EngineWorker {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

impl EngineWorker {
    fn spawn(dispatch: Callback<Action>) -> Result<Self, String> {
        let worker = web_sys::Worker::new("./layerlab-worker_loader.js").map_err(|e| format!("{e:?}"))?;
        let on_message = {
            let dispatch = dispatch.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                match serde_json::from_str::<FromWorker>(&text) {
                    Ok(message) => dispatch.emit(Action::Message(message)),
                    Err(e) => dispatch.emit(Action::Notice(Notice {
                        error: true,
                        text: format!("unreadable message from the engine: {e}"),
                    })),
                }
            })
        };
        let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |event: web_sys::ErrorEvent| {
            event.prevent_default();
            let message = event.message();
            dispatch.emit(Action::WorkerLost(if message.is_empty() {
                "the engine's worker failed to load".into()
            } else {
                message
            }));
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self {
            worker,
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    fn post(&self, message: &ToWorker) {
        let _ = self.worker.post_message(&JsValue::from_str(&message.to_json()));
    }
}

type WorkerSlot = Rc<RefCell<Option<EngineWorker>>>;

/// Starts a run with the form's config, if the state allows one.
fn start_run(state: &UseReducerHandle<AppState>, worker: &WorkerSlot) {
    let Ok(config) = state.config.clone() else {
        return;
    };
    if !state.can_run() {
        return;
    }
    if let Some(w) = worker.borrow().as_ref() {
        state.dispatch(Action::RunRequested);
        w.post(&ToWorker::Run {
            config,
            backend: state.backend,
            data_url: dom::absolute("data/"),
        });
    }
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(|| AppState::default().apply(Action::LoadFragment(url::parse(&dom::hash()))));
    let worker: WorkerSlot = use_mut_ref(|| None);

    // (Re)start the worker whenever the generation changes (first render, or after a crash).
    {
        let worker = worker.clone();
        let dispatch = {
            let state = state.clone();
            Callback::from(move |a: Action| state.dispatch(a))
        };
        use_effect_with(state.worker_generation, move |_| {
            match EngineWorker::spawn(dispatch.clone()) {
                Ok(w) => *worker.borrow_mut() = Some(w),
                Err(e) => dispatch.emit(Action::Notice(Notice {
                    error: true,
                    text: format!("The engine could not start: {e}"),
                })),
            }
        });
    }

    // Keep the address in step with the form.
    {
        let fragment = state.config.as_ref().ok().map(|c| url::format(c, state.backend));
        use_effect_with(fragment, |fragment| {
            if let Some(f) = fragment {
                dom::replace_hash(f);
            }
        });
    }

    // The address changed by hand: load it.
    {
        let state = state.clone();
        use_effect_with((), move |_| {
            let listener = gloo::events::EventListener::new(&dom::window(), "hashchange", move |_| {
                state.dispatch(Action::LoadFragment(url::parse(&dom::hash())));
            });
            move || drop(listener)
        });
    }

    // `run=1`: start as soon as the worker is ready.
    {
        let state_handle = state.clone();
        let worker = worker.clone();
        use_effect_with((state.worker.clone(), state.autorun), move |(status, autorun)| {
            if *status == WorkerStatus::Ready && *autorun {
                start_run(&state_handle, &worker);
            }
        });
    }

    let on_field = {
        let state = state.clone();
        Callback::from(move |(key, value): (String, String)| state.dispatch(Action::SetField { key, value }))
    };
    let on_preset = {
        let state = state.clone();
        Callback::from(move |name: String| state.dispatch(Action::ApplyPreset(name)))
    };
    let on_backend = {
        let state = state.clone();
        Callback::from(move |b| state.dispatch(Action::SetBackend(b)))
    };
    let on_run = {
        let state = state.clone();
        let worker = worker.clone();
        Callback::from(move |_| start_run(&state, &worker))
    };
    let on_stop = {
        let state = state.clone();
        let worker = worker.clone();
        Callback::from(move |_| {
            state.dispatch(Action::StopRequested);
            if let Some(w) = worker.borrow().as_ref() {
                w.post(&ToWorker::Stop);
            }
        })
    };
    let on_select = {
        let state = state.clone();
        Callback::from(move |cell| state.dispatch(Action::Select(cell)))
    };
    let on_threshold = {
        let state = state.clone();
        Callback::from(move |t| state.dispatch(Action::SetThreshold(t)))
    };
    let on_error = {
        let state = state.clone();
        Callback::from(move |text: String| state.dispatch(Action::Notice(Notice { error: true, text })))
    };
    let dismiss = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(Action::DismissNotices))
    };

    let device = match (&state.device, &state.worker) {
        (Some(d), _) => html! {
            <div class={classes!("device", d.backend.clone())} data-testid="device" data-backend={d.backend.clone()}>
                { if d.backend == "webgpu" { format!("WebGPU · {}", d.adapter) } else { d.adapter.clone() } }
            </div>
        },
        (None, WorkerStatus::Loading) => html! { <div class="device" data-testid="device" data-backend="">{ "engine loading…" }</div> },
        (None, WorkerStatus::Ready) => html! { <div class="device" data-testid="device" data-backend="">{ "engine ready · device chosen at the first run" }</div> },
        (None, WorkerStatus::Lost(_)) => html! { <div class="device lost" data-testid="device" data-backend="">{ "engine restarting…" }</div> },
    };
    let fallback = state.device.as_ref().and_then(|d| d.fallback_reason.clone());
    let running = state.running();
    let stopping = state.run.as_ref().is_some_and(|r| r.phase == Phase::Stopping);

    html! {
        <div class="app">
            <header>
                <div class="brand">
                    <h1>{ "LayerLab" }</h1>
                    <p class="tagline">{ "Which layers of a neural network matter? Train a model on your own GPU, then reset each layer to an earlier state and watch the test error. A live reproduction of “Are All Layers Created Equal?” (Zhang, Bengio & Singer, JMLR 2022)." }</p>
                </div>
                { device }
            </header>
            if let Some(reason) = fallback {
                <div class="fallback" role="status" data-testid="fallback-message">{ reason }</div>
            }
            <main class="layout">
                <aside class="sidebar">
                    <Controls form={state.form.clone()} config_error={state.config.clone().err()} backend={state.backend}
                        running={running} stopping={stopping} can_run={state.can_run()}
                        {on_field} {on_preset} {on_backend} {on_run} {on_stop} />
                </aside>
                <div class="content">
                    if !state.notices.is_empty() {
                        <div class="notices" role="alert" data-testid="notices">
                            { for state.notices.iter().map(|n| html! { <p class={if n.error { "error" } else { "info" }}>{ n.text.clone() }</p> }) }
                            <button type="button" onclick={dismiss}>{ "Dismiss" }</button>
                        </div>
                    }
                    if let Some(run) = &state.run {
                        <Progress run={run.clone()} />
                    }
                    if state.run.is_none() && state.result.is_none() {
                        <section class="intro">
                            <h2>{ "How it works" }</h2>
                            <p>{ "LayerLab trains the model you choose and saves every layer at the checkpoints you list (0 is the initial, random state). Then, for each layer, it puts that one layer back to a checkpoint, or to a fresh random draw (“ReRnd”), keeps all other layers trained, and measures the test error without any retraining." }</p>
                            <p>{ "Layers whose reset barely changes the error are robust; layers whose reset breaks the model are critical. In the paper's fully connected network on MNIST, only the first layer is critical." }</p>
                            <p>{ "Pick a preset and press Run. The whole experiment lives in the address bar: copy it to share it." }</p>
                        </section>
                    }
                    <Curves run={state.run.clone()} result={state.result.clone()} />
                    <Results run={state.run.clone()} result={state.result.clone()} selected={state.selected}
                        threshold={state.threshold} {on_select} {on_threshold} {on_error} />
                </div>
            </main>
            <footer>
                <p>{ "Runs entirely in your browser: nothing is uploaded. Same config and seed, same numbers on the CPU backend as the layerlab command line." }</p>
            </footer>
        </div>
    }
}

/// Mounts the app on the page's body.
pub fn start() {
    yew::Renderer::<App>::new().render();
}
