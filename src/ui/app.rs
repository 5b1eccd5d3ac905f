//! The root component: one reducer-style state, the engine worker, the address bar, saved runs.

use crate::engine::data::DatasetKind;
use crate::engine::link;
use crate::engine::result::ResultFile;
use crate::runtime::journal;
use crate::runtime::protocol::{FromWorker, ToWorker};
use crate::ui::components::compare::ComparePanel;
use crate::ui::components::controls::Controls;
use crate::ui::components::export::NoticeSink;
use crate::ui::components::help;
use crate::ui::components::present::Presentation;
use crate::ui::components::progress::Progress;
use crate::ui::components::results::{Curves, Results};
use crate::ui::components::saved::SavedRuns;
use crate::ui::components::share::SharePanel;
use crate::ui::dom;
use crate::ui::state::{Action, AppState, Comparison, Notice, Origin, Phase, PresentKey, WorkerStatus};
use crate::ui::storage;
use crate::ui::url;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new((*self).clone().apply(action))
    }
}

fn error_notice(text: impl Into<String>) -> Action {
    Action::Notice(Notice {
        error: true,
        text: text.into(),
    })
}

fn info_notice(text: impl Into<String>) -> Action {
    Action::Notice(Notice {
        error: false,
        text: text.into(),
    })
}

/// Keeps a finished result in IndexedDB and adds it to the list. A failure (a full quota)
/// leaves the result open and says so.
fn save_result(result: ResultFile, name: String, source: &'static str, dispatch: Callback<Action>) {
    spawn_local(async move {
        match storage::save(&result, &name, source).await {
            Ok(summary) => dispatch.emit(Action::SavedAdded(summary)),
            Err(e) => dispatch.emit(Action::SaveFailed(e)),
        }
    });
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
                    Ok(message) => {
                        if let FromWorker::Finished(result) = &message {
                            let name = format!("{} · seed {}", result.config.label(), result.config.seed);
                            save_result((**result).clone(), name, "run", dispatch.clone());
                        }
                        dispatch.emit(Action::Message(message));
                    }
                    Err(e) => dispatch.emit(error_notice(format!("unreadable message from the engine: {e}"))),
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

    /// Sends a message with a file alongside it: the worker reads the file itself, so its bytes
    /// are copied once, into the engine, and never into the page's memory.
    fn post_with_file(&self, message: &ToWorker, file: &web_sys::File) {
        let envelope = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&envelope, &"json".into(), &JsValue::from_str(&message.to_json()));
        let _ = js_sys::Reflect::set(&envelope, &"file".into(), file);
        let _ = self.worker.post_message(&envelope);
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

/// Finishes the interrupted run the journal holds.
fn resume_run(state: &UseReducerHandle<AppState>, worker: &WorkerSlot) {
    if state.resumable.is_none() || state.worker != WorkerStatus::Ready || state.running() {
        return;
    }
    if let Some(w) = worker.borrow().as_ref() {
        state.dispatch(Action::ResumeRequested);
        w.post(&ToWorker::Resume {
            backend: state.backend,
            data_url: dom::absolute("data/"),
        });
    }
}

/// Opens a dropped or chosen file: a result (JSON) or a CIFAR-10 archive.
fn import_file(file: web_sys::File, dispatch: Callback<Action>, worker: WorkerSlot) {
    let name = file.name();
    let lower = name.to_ascii_lowercase();
    const MAX_JSON: f64 = 64.0 * 1024.0 * 1024.0;
    spawn_local(async move {
        if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") || lower.ends_with(".tar") {
            let limit = crate::engine::data::cifar::MAX_ARCHIVE_BYTES as f64;
            if file.size() > limit {
                dispatch.emit(error_notice(format!(
                    "{name} is {:.0} MB, more than the {:.0} MB a CIFAR-10 archive can be (the official one is 163 MB). Nothing was changed.",
                    file.size() / 1e6,
                    limit / 1e6
                )));
                return;
            }
            dispatch.emit(info_notice(format!("Reading {name}…")));
            match worker.borrow().as_ref() {
                Some(w) => w.post_with_file(
                    &ToWorker::ImportData {
                        kind: DatasetKind::Cifar10,
                        file_name: name.clone(),
                    },
                    &file,
                ),
                None => dispatch.emit(error_notice("The engine is not running; reload the page.")),
            }
            return;
        }
        if file.size() > MAX_JSON {
            dispatch.emit(error_notice(format!(
                "{name} is too large to be a LayerLab result."
            )));
            return;
        }
        let bytes = match dom::read_bytes(&file).await {
            Ok(b) => b,
            Err(e) => return dispatch.emit(error_notice(format!("{name} cannot be read: {e}"))),
        };
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|_| "it is not text".to_string())
            .and_then(|text| ResultFile::from_json(text).map_err(|e| e.to_string()));
        match parsed {
            Ok(result) => {
                save_result(
                    result.clone(),
                    format!("{name} ({})", result.config.label()),
                    "file",
                    dispatch.clone(),
                );
                dispatch.emit(Action::OpenResult {
                    result: Rc::new(result),
                    origin: Origin::File(name),
                });
            }
            Err(e) => dispatch.emit(error_notice(format!(
                "{name} cannot be opened: {e}. Nothing was changed."
            ))),
        }
    });
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(|| {
        AppState {
            framed: dom::is_framed(),
            ..AppState::default()
        }
        .apply(Action::LoadFragment(url::parse(&dom::hash())))
    });
    let worker: WorkerSlot = use_mut_ref(|| None);
    let dispatch = {
        let state = state.clone();
        Callback::from(move |a: Action| state.dispatch(a))
    };

    // (Re)start the worker whenever the generation changes (first render, or after a crash).
    {
        let worker = worker.clone();
        let dispatch = dispatch.clone();
        use_effect_with(state.worker_generation, move |_| {
            match EngineWorker::spawn(dispatch.clone()) {
                Ok(w) => *worker.borrow_mut() = Some(w),
                Err(e) => dispatch.emit(error_notice(format!("The engine could not start: {e}"))),
            }
        });
    }

    // The saved runs.
    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            spawn_local(async move {
                match storage::list().await {
                    Ok(list) => dispatch.emit(Action::SavedLoaded(list)),
                    Err(e) => dispatch.emit(error_notice(format!("Saved runs are unavailable: {e}"))),
                }
            });
        });
    }

    // An interrupted run (a reload or a crash during a run) is offered to be finished.
    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            spawn_local(async move {
                match journal::header().await {
                    Ok(Some(header)) => dispatch.emit(Action::ResumeOffered(header)),
                    Ok(None) => {}
                    Err(e) => dispatch.emit(error_notice(format!(
                        "An interrupted run could not be read back: {e}"
                    ))),
                }
            });
        });
    }

    // Keep the address in step with the form (or with the shared link being shown).
    {
        let fragment = match &state.link_payload {
            Some(payload) => Some(format!("#r={payload}")),
            None => state.config.as_ref().ok().map(|c| url::format(c, state.backend)),
        };
        use_effect_with(fragment, |fragment| {
            if let Some(f) = fragment {
                dom::replace_hash(f);
            }
        });
    }

    // The address changed by hand (or a link was pasted): load it.
    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            let listener = gloo::events::EventListener::new(&dom::window(), "hashchange", move |_| {
                dispatch.emit(Action::LoadFragment(url::parse(&dom::hash())));
            });
            move || drop(listener)
        });
    }

    // Files dropped anywhere on the page.
    {
        let dispatch = dispatch.clone();
        let worker = worker.clone();
        use_effect_with((), move |_| {
            let window = dom::window();
            let over = gloo::events::EventListener::new_with_options(
                &window,
                "dragover",
                gloo::events::EventListenerOptions::enable_prevent_default(),
                |e| e.prevent_default(),
            );
            let drop_listener = gloo::events::EventListener::new_with_options(
                &window,
                "drop",
                gloo::events::EventListenerOptions::enable_prevent_default(),
                move |e| {
                    e.prevent_default();
                    let file = e
                        .dyn_ref::<web_sys::DragEvent>()
                        .and_then(|d| d.data_transfer())
                        .and_then(|t| t.files())
                        .and_then(|f| f.get(0));
                    if let Some(file) = file {
                        import_file(file, dispatch.clone(), worker.clone());
                    }
                },
            );
            move || {
                drop(over);
                drop(drop_listener);
            }
        });
    }

    // Leaving while a run is under way, or before its result is saved, asks first.
    {
        let guard = state.running() || state.unsaved;
        use_effect_with(guard, move |&guard| {
            let listener = guard.then(|| {
                gloo::events::EventListener::new_with_options(
                    &dom::window(),
                    "beforeunload",
                    gloo::events::EventListenerOptions::enable_prevent_default(),
                    |e| {
                        e.prevent_default();
                        let _ = js_sys::Reflect::set(e, &"returnValue".into(), &JsValue::from_str(""));
                    },
                )
            });
            move || drop(listener)
        });
    }

    // Keys: P opens the presentation view (outside form fields); in it, arrows and Esc.
    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            let listener = gloo::events::EventListener::new(&dom::document(), "keydown", move |e| {
                let Some(key) = e.dyn_ref::<web_sys::KeyboardEvent>() else {
                    return;
                };
                let typing = e
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
                let action = match key.key().as_str() {
                    "p" | "P" if !typing && !key.ctrl_key() && !key.meta_key() => Some(Action::Present(true)),
                    "Escape" => Some(Action::Present(false)),
                    "ArrowLeft" => Some(Action::PresentKey(PresentKey::Left)),
                    "ArrowRight" => Some(Action::PresentKey(PresentKey::Right)),
                    "ArrowUp" => Some(Action::PresentKey(PresentKey::Up)),
                    "ArrowDown" => Some(Action::PresentKey(PresentKey::Down)),
                    _ => None,
                };
                if let Some(action) = action {
                    dispatch.emit(action);
                }
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
        let d = dispatch.clone();
        Callback::from(move |(key, value): (String, String)| d.emit(Action::SetField { key, value }))
    };
    let on_preset = {
        let d = dispatch.clone();
        Callback::from(move |name: String| d.emit(Action::ApplyPreset(name)))
    };
    let on_backend = {
        let d = dispatch.clone();
        Callback::from(move |b| d.emit(Action::SetBackend(b)))
    };
    let on_run = {
        let state = state.clone();
        let worker = worker.clone();
        Callback::from(move |_| start_run(&state, &worker))
    };
    let on_stop = {
        let d = dispatch.clone();
        let worker = worker.clone();
        Callback::from(move |_| {
            d.emit(Action::StopRequested);
            if let Some(w) = worker.borrow().as_ref() {
                w.post(&ToWorker::Stop);
            }
        })
    };
    let on_select = {
        let d = dispatch.clone();
        Callback::from(move |cell| d.emit(Action::Select(cell)))
    };
    let on_threshold = {
        let d = dispatch.clone();
        Callback::from(move |t| d.emit(Action::SetThreshold(t)))
    };
    let on_error = {
        let d = dispatch.clone();
        Callback::from(move |text: String| d.emit(error_notice(text)))
    };
    let dismiss = {
        let d = dispatch.clone();
        Callback::from(move |_: MouseEvent| d.emit(Action::DismissNotices))
    };
    let on_share = {
        let state = state.clone();
        Callback::from(move |_| {
            let Some(result) = &state.result else {
                return;
            };
            let payload = link::encode(result);
            let url = format!("{}#r={payload}", dom::page_url());
            state.dispatch(Action::ShareReady(if url.len() > link::MAX_LINK_CHARS {
                Err(format!(
                    "This result is too big for a link ({} characters; the limit is {}).",
                    url.len(),
                    link::MAX_LINK_CHARS
                ))
            } else {
                Ok(url)
            }));
        })
    };
    let on_copy = Callback::from(|url: String| dom::copy_to_clipboard(&url));
    let on_download = {
        let state = state.clone();
        let on_error = on_error.clone();
        Callback::from(move |_| {
            if let Some(r) = &state.result
                && let Err(e) = dom::download("layerlab-result.json", "application/json", &r.to_json())
            {
                on_error.emit(e);
            }
        })
    };
    let on_open = {
        let d = dispatch.clone();
        Callback::from(move |id: u32| {
            let d = d.clone();
            spawn_local(async move {
                match storage::load(id).await {
                    Ok(result) => d.emit(Action::OpenResult {
                        result: Rc::new(result),
                        origin: Origin::Saved(id),
                    }),
                    Err(e) => d.emit(error_notice(format!("This saved run cannot be opened: {e}"))),
                }
            });
        })
    };
    let on_rename = {
        let state = state.clone();
        let d = dispatch.clone();
        Callback::from(move |id: u32| {
            let current = state
                .saved
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            let Ok(Some(name)) =
                dom::window().prompt_with_message_and_default("New name for this run", &current)
            else {
                return;
            };
            let name = name.trim().to_string();
            if name.is_empty() {
                return;
            }
            let d = d.clone();
            spawn_local(async move {
                match storage::rename(id, &name).await {
                    Ok(()) => d.emit(Action::SavedRenamed { id, name }),
                    Err(e) => d.emit(error_notice(format!("The run could not be renamed: {e}"))),
                }
            });
        })
    };
    let on_delete = {
        let d = dispatch.clone();
        Callback::from(move |id: u32| {
            if !dom::window()
                .confirm_with_message("Delete this saved run?")
                .unwrap_or(false)
            {
                return;
            }
            let d = d.clone();
            spawn_local(async move {
                match storage::delete(id).await {
                    Ok(()) => d.emit(Action::SavedDeleted(id)),
                    Err(e) => d.emit(error_notice(format!("The run could not be deleted: {e}"))),
                }
            });
        })
    };
    let on_pick = {
        let d = dispatch.clone();
        Callback::from(move |id| d.emit(Action::TogglePick(id)))
    };
    let on_compare = {
        let state = state.clone();
        let d = dispatch.clone();
        Callback::from(move |_| {
            let picked = state.picked.clone();
            let names: Vec<String> = picked
                .iter()
                .map(|id| {
                    state
                        .saved
                        .iter()
                        .find(|s| s.id == *id)
                        .map(|s| s.name.clone())
                        .unwrap_or_default()
                })
                .collect();
            let d = d.clone();
            spawn_local(async move {
                if let [a, b] = picked.as_slice() {
                    match (storage::load(*a).await, storage::load(*b).await) {
                        (Ok(ra), Ok(rb)) => d.emit(Action::Compare(Comparison {
                            a: (names[0].clone(), Rc::new(ra)),
                            b: (names[1].clone(), Rc::new(rb)),
                        })),
                        (Err(e), _) | (_, Err(e)) => {
                            d.emit(error_notice(format!("A run could not be loaded: {e}")))
                        }
                    }
                }
            });
        })
    };
    let on_import = {
        let d = dispatch.clone();
        let worker = worker.clone();
        Callback::from(move |file| import_file(file, d.clone(), worker.clone()))
    };
    let on_close_compare = {
        let d = dispatch.clone();
        Callback::from(move |_| d.emit(Action::CloseCompare))
    };
    let on_resume = {
        let state = state.clone();
        let worker = worker.clone();
        Callback::from(move |_: MouseEvent| resume_run(&state, &worker))
    };
    let on_discard = {
        let d = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            let d = d.clone();
            spawn_local(async move {
                match journal::clear().await {
                    Ok(()) => d.emit(Action::ResumeDiscarded),
                    Err(e) => d.emit(error_notice(format!(
                        "The interrupted run could not be discarded: {e}"
                    ))),
                }
            });
        })
    };
    let on_present = {
        let d = dispatch.clone();
        Callback::from(move |open: bool| d.emit(Action::Present(open)))
    };
    let toggle_settings = {
        let d = dispatch.clone();
        Callback::from(move |_: MouseEvent| d.emit(Action::ToggleSettings))
    };
    let first_visit = use_state(dom::first_visit);
    let close_guide = {
        let first_visit = first_visit.clone();
        Callback::from(move |_: MouseEvent| {
            dom::remember_visit();
            first_visit.set(false);
        })
    };
    let confirm = {
        let d = dispatch.clone();
        Callback::from(move |start: bool| d.emit(Action::ConfirmRun(start)))
    };
    let rerun = {
        let state = state.clone();
        let worker = worker.clone();
        Callback::from(move |_: MouseEvent| start_run(&state, &worker))
    };

    let device = match (&state.device, &state.worker) {
        (Some(d), _) => html! {
            <div class={classes!("device", d.backend.clone())} data-testid="device" data-backend={d.backend.clone()}>
                { if d.backend == "webgpu" { format!("WebGPU · {}", d.adapter) } else { d.adapter.clone() } }
            </div>
        },
        (None, WorkerStatus::Loading) => {
            html! { <div class="device" data-testid="device" data-backend="">{ "engine loading…" }</div> }
        }
        (None, WorkerStatus::Ready) => {
            html! { <div class="device" data-testid="device" data-backend="">{ "engine ready · device chosen at the first run" }</div> }
        }
        (None, WorkerStatus::Lost(_)) => {
            html! { <div class="device lost" data-testid="device" data-backend="">{ "engine restarting…" }</div> }
        }
    };
    let fallback = state.device.as_ref().and_then(|d| d.fallback_reason.clone());
    let running = state.running();
    let stopping = state
        .run
        .as_ref()
        .is_some_and(|r| matches!(r.phase, Phase::Stopping | Phase::StoppingSweep));
    let sweeping = state.run.as_ref().is_some_and(|r| r.phase == Phase::Sweeping);
    let current_saved = match state.origin {
        Some(Origin::Saved(id)) => Some(id),
        _ => None,
    };
    let origin_line = match &state.origin {
        Some(Origin::Link) if !running => Some(html! {
            <div class="origin" data-testid="shared-banner">
                { "This result was opened from a link: nothing was trained here. " }
                <button type="button" class="primary" data-testid="rerun" disabled={!state.can_run()} onclick={rerun}>{ "Re-run this experiment" }</button>
                { " (same config and seed; the two results will be shown side by side)" }
            </div>
        }),
        Some(Origin::File(name)) => {
            Some(html! { <div class="origin">{ format!("Opened from the file {name}.") }</div> })
        }
        Some(Origin::Saved(_)) if state.run.is_none() => {
            Some(html! { <div class="origin">{ "A saved run." }</div> })
        }
        _ => None,
    };

    // On a phone the result comes first and the form waits behind a button.
    let collapse_settings = state.result.is_some() || running;
    let presentation = match (&state.result, state.presenting) {
        (Some(result), true) => html! {
            <Presentation result={result.clone()} view={state.present_view} selected={state.selected}
                threshold={state.threshold} on_close={{ let p = on_present.clone(); Callback::from(move |_| p.emit(false)) }} />
        },
        _ => html! {},
    };
    html! {
        <ContextProvider<NoticeSink> context={NoticeSink(on_error.clone())}>
        { presentation }
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
            <main class={classes!("layout", collapse_settings.then_some("result-first"))}>
                <aside class={classes!("sidebar", (collapse_settings && !state.settings_open).then_some("collapsed"))}>
                    if collapse_settings {
                        <button type="button" class="settings-toggle" data-testid="settings-toggle" onclick={toggle_settings}
                                aria-expanded={state.settings_open.to_string()}>
                            { if state.settings_open { "Hide the experiment settings" } else { "Show the experiment settings" } }
                        </button>
                    }
                    <Controls form={state.form.clone()} config_error={state.config.clone().err()} backend={state.backend}
                        running={running} stopping={stopping} sweeping={sweeping} can_run={state.can_run()}
                        {on_field} {on_preset} {on_backend} {on_run} {on_stop} />
                    <SavedRuns runs={state.saved.clone()} picked={state.picked.clone()} current={current_saved}
                        {on_open} {on_rename} {on_delete} {on_pick} {on_compare} {on_import} />
                </aside>
                <div class="content">
                    if !state.notices.is_empty() {
                        <div class="notices" role="alert" data-testid="notices">
                            { for state.notices.iter().map(|n| html! { <p class={if n.error { "error" } else { "info" }}>{ n.text.clone() }</p> }) }
                            <button type="button" onclick={dismiss}>{ "Dismiss" }</button>
                        </div>
                    }
                    { for origin_line }
                    if let Some(header) = &state.resumable {
                        <div class="resume" role="status" data-testid="resume-offer">
                            <p>{ format!("A run was interrupted: {}. Its checkpoints are kept in this browser.", header.describe()) }</p>
                            <button type="button" class="primary" data-testid="resume" disabled={state.worker != WorkerStatus::Ready || running}
                                onclick={on_resume}>{ "Finish this run" }</button>
                            <button type="button" data-testid="resume-discard" onclick={on_discard}>{ "Discard it" }</button>
                        </div>
                    }
                    if let Some(question) = &state.confirm_run {
                        <div class="confirm-run" role="alertdialog" data-testid="confirm-run">
                            <p>{ question.clone() }</p>
                            <button type="button" class="primary" data-testid="confirm-run-start"
                                onclick={{ let c = confirm.clone(); Callback::from(move |_: MouseEvent| c.emit(true)) }}>{ "Start the run" }</button>
                            <button type="button" data-testid="confirm-run-cancel"
                                onclick={{ let c = confirm.clone(); Callback::from(move |_: MouseEvent| c.emit(false)) }}>{ "Not now" }</button>
                        </div>
                    }
                    if let Some(run) = &state.run {
                        <Progress run={run.clone()} />
                    }
                    if *first_visit && state.result.is_none() && state.run.is_none() {
                        <section class="guide" data-testid="guide">
                            <h2>{ "What you are looking at" }</h2>
                            <p>{ help::explanation("intro") }</p>
                            <p>{ help::explanation("error") }</p>
                            <p>{ "Press “Run” with the quick preset: in about 20 seconds the test-error map appears. Every map has a “?” that explains it; “Present” (or the P key) shows the result large, for a projector." }</p>
                            <button type="button" data-testid="guide-close" onclick={close_guide}>{ "Got it" }</button>
                        </section>
                    }
                    if state.run.is_none() && state.result.is_none() {
                        <section class="intro">
                            <h2>{ "How it works" }</h2>
                            <p>{ "LayerLab trains the model you choose and saves every layer at the checkpoints you list (0 is the initial, random state). Then, for each layer, it puts that one layer back to a checkpoint, or to a fresh random draw (“ReRnd”), keeps all other layers trained, and measures the test error without any retraining." }</p>
                            <p>{ "Layers whose reset barely changes the error are robust; layers whose reset breaks the model are critical. In the paper's fully connected network on MNIST, only the first layer is critical." }</p>
                            <p>{ "Pick a preset and press Run. The whole experiment lives in the address bar: copy it to share it; after a run, “Share result link” makes a link that opens the finished result anywhere." }</p>
                        </section>
                    }
                    if let Some(c) = &state.compare {
                        <ComparePanel comparison={c.clone()} on_close={on_close_compare} />
                    }
                    <Curves run={state.run.clone()} result={state.result.clone()} />
                    <Results run={state.run.clone().filter(|r| r.phase.is_active())} result={state.result.clone()} selected={state.selected}
                        threshold={state.threshold} {on_select} {on_threshold} on_error={on_error.clone()} />
                    if state.result.is_some() && !running {
                        <div class="present-open">
                            <button type="button" class="primary" data-testid="present"
                                onclick={{ let p = on_present.clone(); Callback::from(move |_: MouseEvent| p.emit(true)) }}>
                                { "Present (P)" }
                            </button>
                        </div>
                        <SharePanel share={state.share.clone()} {on_share} {on_copy} {on_download} />
                    }
                </div>
            </main>
            <footer>
                <p>{ "Runs entirely in your browser: nothing is uploaded. Same config and seed on the CPU backend: the same result, bit for bit, as the layerlab command line." }</p>
            </footer>
        </div>
        </ContextProvider<NoticeSink>>
    }
}

/// Mounts the app on the page's body.
pub fn start() {
    yew::Renderer::<App>::new().render();
}
