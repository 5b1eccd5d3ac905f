//! The root component: the state, the engine, the window's listeners, and the page's layout.
//! Effects live in `effects`, engine commands in `engine`, listeners in `hooks`; this file
//! only wires clicks to them and state to components.

use crate::ui::components::compare::ComparePanel;
use crate::ui::components::controls::Controls;
use crate::ui::components::export::NoticeSink;
use crate::ui::components::present::Presentation;
use crate::ui::components::progress::Progress;
use crate::ui::components::results::{Curves, Results};
use crate::ui::components::saved::SavedRuns;
use crate::ui::components::share::SharePanel;
use crate::ui::components::status::{
    ConfirmRun, DeviceBadge, Guide, Intro, Notices, OriginBanner, ResumeOffer, UpdateBanner, threads_note,
};
use crate::ui::components::study::StudyPanel;
use crate::ui::engine::EngineSlot;
use crate::ui::hooks::{use_file_drop, use_hash_changes, use_leave_guard, use_present_keys};
use crate::ui::state::{Action, AppState, Isolation, Notice, Origin, ShareLink, WorkerStatus};
use crate::ui::{dom, effects, offline, url};
use std::rc::Rc;
use yew::prelude::*;

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new((*self).clone().apply(action))
    }
}

/// A callback that turns its argument into an action.
fn emit<T: 'static>(dispatch: &Callback<Action>, action: impl Fn(T) -> Action + 'static) -> Callback<T> {
    let dispatch = dispatch.clone();
    Callback::from(move |value| dispatch.emit(action(value)))
}

/// A callback that runs `effect` with the current state and the dispatcher.
fn with_state<T: 'static>(
    state: &UseReducerHandle<AppState>,
    effect: impl Fn(T, &AppState, Callback<Action>) + 'static,
) -> Callback<T> {
    let state = state.clone();
    Callback::from(move |value| {
        let dispatch = {
            let state = state.clone();
            Callback::from(move |a: Action| state.dispatch(a))
        };
        effect(value, &state, dispatch)
    })
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(|| {
        let state = AppState {
            framed: dom::is_framed(),
            ..AppState::default()
        }
        .apply(Action::LoadFragment(url::parse(&dom::hash())));
        // A shared result is shown at once and trains nothing unless asked: no reload for it.
        let wait = dom::isolation_expected() && state.link_payload.is_none();
        AppState {
            isolation: if wait {
                Isolation::Pending
            } else {
                Isolation::Settled
            },
            ..state
        }
    });
    let engine = use_memo((), |_| EngineSlot::default()).as_ref().clone();
    let dispatch = {
        let state = state.clone();
        Callback::from(move |a: Action| state.dispatch(a))
    };

    // (Re)start the worker whenever the generation changes (the engine the backend needs is
    // known, it changed, or the last one crashed).
    {
        let (engine, dispatch) = (engine.clone(), dispatch.clone());
        use_effect_with((state.worker_generation, state.engine), move |(_, kind)| {
            if let Some(kind) = *kind
                && let Err(e) = engine.spawn(kind, dispatch.clone())
            {
                dispatch.emit(Action::Notice(Notice::error(format!(
                    "The engine could not start: {e}"
                ))));
            }
        });
    }
    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            offline::register(dispatch.clone());
            {
                // Which engine to load: the WebGPU one only where it can train on a real GPU.
                let dispatch = dispatch.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    dispatch.emit(Action::GpuProbed(crate::runtime::adapter::adapter_kind().await));
                });
            }
            effects::list_saved(dispatch.clone());
            // An interrupted run (a reload or a crash during a run) is offered to be finished.
            effects::offer_resume(dispatch);
        });
    }
    // Keep the address in step with the form (or with the shared link being shown).
    {
        let fragment = match &state.link_payload {
            Some(payload) => Some(format!("#r={payload}")),
            None => state
                .form
                .config
                .as_ref()
                .ok()
                .map(|c| url::format(c, state.backend)),
        };
        use_effect_with(fragment, |fragment| {
            if let Some(f) = fragment {
                dom::replace_hash(f);
            }
        });
    }
    // The service worker is in control and nothing has started: reload, cross-origin isolated.
    {
        let run = state.autorun || state.confirm_run.is_some();
        use_effect_with(state.isolation, move |isolation| {
            if *isolation == Isolation::Reload {
                dom::reload_for_isolation(run);
            }
        });
    }
    use_hash_changes(dispatch.clone());
    use_file_drop(dispatch.clone(), engine.clone());
    use_leave_guard(state.running() || state.unsaved);
    use_present_keys(dispatch.clone());
    // `run=1`: start as soon as the worker is ready.
    {
        let (state_handle, engine, dispatch) = (state.clone(), engine.clone(), dispatch.clone());
        use_effect_with((state.worker.clone(), state.autorun), move |(status, autorun)| {
            if *status == WorkerStatus::Ready && *autorun {
                engine.run(&state_handle, &dispatch);
            }
        });
    }

    let run = {
        let engine = engine.clone();
        with_state(&state, move |_: (), s, d| engine.run(s, &d))
    };
    let on_stop = {
        let (engine, d) = (engine.clone(), dispatch.clone());
        Callback::from(move |_| engine.stop(&d))
    };
    let on_resume = {
        let engine = engine.clone();
        with_state(&state, move |_: (), s, d| engine.resume(s, &d))
    };
    let on_error = emit(&dispatch, |text: String| Action::Notice(Notice::error(text)));
    let on_share = with_state(&state, |_: (), s, d| {
        if let Some(result) = &s.result {
            d.emit(Action::ShareReady(ShareLink::of(result, &dom::page_url())));
        }
    });
    let on_download = {
        let on_error = on_error.clone();
        with_state(&state, move |_: (), s, _| {
            if let Some(r) = &s.result
                && let Err(e) = dom::download_result(r)
            {
                on_error.emit(format!("The download failed: {e}"));
            }
        })
    };
    let on_rename = with_state(&state, |id: u32, s, d| {
        let current = s.saved.name_of(id).unwrap_or_default().to_string();
        effects::rename_saved(id, &current, d)
    });
    let on_import = {
        let (d, engine) = (dispatch.clone(), engine.clone());
        Callback::from(move |file| effects::import_file(file, d.clone(), engine.clone()))
    };
    let first_visit = use_state(dom::first_visit);
    let close_guide = {
        let first_visit = first_visit.clone();
        Callback::from(move |_| {
            dom::remember_visit();
            first_visit.set(false);
        })
    };

    let running = state.running();
    let phase = state.run.as_ref().map(|r| r.phase);
    let current_saved = match state.origin {
        Some(Origin::Saved(id)) => Some(id),
        _ => None,
    };
    // On a phone the result comes first and the form waits behind a button.
    // A study shows its picked run's curves and maps (the file itself for anything else).
    let shown = state.shown_result();
    let collapse_settings = state.result.is_some() || running;
    let presentation = match (&state.result, state.presenting) {
        (Some(result), true) => html! {
            <Presentation result={result.clone()} view={state.present_view} selected={state.selected}
                threshold={state.threshold} on_close={emit(&dispatch, |_| Action::Present(false))} />
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
                <DeviceBadge device={state.device.clone()} worker={state.worker.clone()} />
            </header>
            if let Some(reason) = state.device.as_ref().and_then(|d| d.fallback_reason.clone()) {
                <div class="fallback" role="status" data-testid="fallback-message">{ reason }</div>
            }
            if let Some(note) = state.device.as_ref().and_then(threads_note) {
                <div class="fallback" role="status" data-testid="threads-note">{ note }</div>
            }
            <main class={classes!("layout", collapse_settings.then_some("result-first"))}>
                <aside class={classes!("sidebar", (collapse_settings && !state.settings_open).then_some("collapsed"))}>
                    if collapse_settings {
                        <button type="button" class="settings-toggle" data-testid="settings-toggle"
                                onclick={emit(&dispatch, |_: MouseEvent| Action::ToggleSettings)}
                                aria-expanded={state.settings_open.to_string()}>
                            { if state.settings_open { "Hide the experiment settings" } else { "Show the experiment settings" } }
                        </button>
                    }
                    <Controls form={state.form.clone()} config_error={state.form.config.as_ref().err().map(|e| e.to_string())}
                        backend={state.backend} running={running}
                        stopping={phase.is_some_and(|p| p.is_stopping())}
                        sweeping={phase == Some(crate::ui::state::Phase::Sweeping)} can_run={state.can_run()}
                        on_field={emit(&dispatch, |(key, value)| Action::SetField { key, value })}
                        on_preset={emit(&dispatch, Action::ApplyPreset)}
                        on_backend={emit(&dispatch, Action::SetBackend)}
                        on_run={run.clone()} {on_stop} />
                    <SavedRuns runs={state.saved.runs.clone()} picked={state.saved.picked.clone()} current={current_saved}
                        on_open={{ let d = dispatch.clone(); Callback::from(move |id| effects::open_saved(id, d.clone())) }}
                        {on_rename}
                        on_delete={{ let d = dispatch.clone(); Callback::from(move |id| effects::delete_saved(id, d.clone())) }}
                        on_pick={emit(&dispatch, Action::TogglePick)}
                        on_compare={with_state(&state, |_: (), s, d| effects::compare_picked(&s.saved, d))}
                        {on_import} />
                </aside>
                <div class="content">
                    if state.update_available {
                        <UpdateBanner on_reload={Callback::from(|_| offline::apply_update())} />
                    }
                    <Notices notices={state.notices.clone()} on_dismiss={emit(&dispatch, |_| Action::DismissNotices)} />
                    <OriginBanner origin={state.origin.clone()} {running} has_run={state.run.is_some()}
                        can_run={state.can_run()} on_rerun={run} />
                    if let Some(header) = &state.resumable {
                        <ResumeOffer header={header.clone()} can_resume={state.worker == WorkerStatus::Ready && !running}
                            {on_resume} on_discard={{ let d = dispatch.clone(); Callback::from(move |_| effects::discard_resume(d.clone())) }} />
                    }
                    if let Some(question) = &state.confirm_run {
                        <ConfirmRun question={question.clone()} on_answer={emit(&dispatch, Action::ConfirmRun)} />
                    }
                    if let Some(run) = &state.run {
                        <Progress run={run.clone()} />
                    }
                    if *first_visit && state.result.is_none() && state.run.is_none() {
                        <Guide on_close={close_guide} />
                    }
                    if state.run.is_none() && state.result.is_none() {
                        <Intro />
                    }
                    if let Some(c) = &state.compare {
                        <ComparePanel comparison={c.clone()} on_close={emit(&dispatch, |_| Action::CloseCompare)} />
                    }
                    if let Some(file) = state.result.clone().filter(|r| r.study.is_some() && !running) {
                        <StudyPanel {file} pick={state.study_pick} threshold={state.threshold}
                            on_pick={emit(&dispatch, Action::PickStudyRun)} on_error={on_error.clone()} />
                    }
                    <Curves run={state.run.clone()} result={shown.clone()} />
                    <Results run={state.run.clone().filter(|r| r.phase.is_active())} result={shown} file={state.result.clone()} selected={state.selected}
                        threshold={state.threshold} on_select={emit(&dispatch, Action::Select)}
                        on_threshold={emit(&dispatch, Action::SetThreshold)} on_error={on_error.clone()} />
                    if state.result.is_some() && !running {
                        <div class="present-open">
                            <button type="button" class="primary" data-testid="present"
                                onclick={emit(&dispatch, |_: MouseEvent| Action::Present(true))}>
                                { "Present (P)" }
                            </button>
                        </div>
                        <SharePanel share={state.share.clone()} {on_share}
                            on_copy={Callback::from(|url: String| dom::copy_to_clipboard(&url))} {on_download} />
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
