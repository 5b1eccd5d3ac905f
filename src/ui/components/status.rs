//! The page's status lines: the device badge, notices, where the shown result came from, the
//! offer to finish an interrupted run, the question before a linked run starts, and the
//! first-visit guide.

use crate::runtime::protocol::{Backend, DeviceReport, JournalHeader};
use crate::ui::components::help;
use crate::ui::dom;
use crate::ui::state::{Notice, NoticeKind, Origin, WorkerStatus};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct DeviceProps {
    pub device: Option<DeviceReport>,
    pub worker: WorkerStatus,
}

/// Which device the engine uses, or what the engine is doing before it knows.
#[function_component(DeviceBadge)]
pub fn device_badge(props: &DeviceProps) -> Html {
    match (&props.device, &props.worker) {
        (Some(d), _) => {
            let backend = d.backend.name();
            html! {
                <div class={classes!("device", backend)} data-testid="device" data-backend={backend} data-threads={d.threads.to_string()}>
                    { if d.backend == Backend::Webgpu { format!("WebGPU · {}", d.adapter) } else { d.adapter.clone() } }
                </div>
            }
        }
        (None, WorkerStatus::Loading) => {
            html! { <div class="device" data-testid="device" data-backend="">{ "engine loading…" }</div> }
        }
        (None, WorkerStatus::Ready) => {
            html! { <div class="device" data-testid="device" data-backend="">{ "engine ready · device chosen at the first run" }</div> }
        }
        (None, WorkerStatus::Lost(_)) => {
            html! { <div class="device lost" data-testid="device" data-backend="">{ "engine restarting…" }</div> }
        }
    }
}

/// Why the CPU engine trains on fewer threads than the machine has cores, if it does.
pub fn threads_note(device: &DeviceReport) -> Option<String> {
    if device.backend != Backend::Cpu {
        return None;
    }
    device
        .threads_note
        .clone()
        .or_else(|| (device.threads <= 1).then(dom::single_thread_reason).flatten())
}

#[derive(Properties, PartialEq)]
pub struct NoticesProps {
    pub notices: Vec<Notice>,
    pub on_dismiss: Callback<()>,
}

#[function_component(Notices)]
pub fn notices(props: &NoticesProps) -> Html {
    if props.notices.is_empty() {
        return html! {};
    }
    let dismiss = props.on_dismiss.reform(|_: MouseEvent| ());
    html! {
        <div class="notices" role="alert" data-testid="notices">
            { for props.notices.iter().map(|n| html! {
                <p class={match n.kind { NoticeKind::Error => "error", NoticeKind::Info => "info" }}>{ n.text.clone() }</p>
            }) }
            <button type="button" onclick={dismiss}>{ "Dismiss" }</button>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct OriginProps {
    pub origin: Option<Origin>,
    pub running: bool,
    /// A run (live or finished) is on the page.
    pub has_run: bool,
    pub can_run: bool,
    pub on_rerun: Callback<()>,
}

/// Where the shown result came from; a linked one offers to be re-run.
#[function_component(OriginBanner)]
pub fn origin_banner(props: &OriginProps) -> Html {
    match &props.origin {
        Some(Origin::Link) if !props.running => html! {
            <div class="origin" data-testid="shared-banner">
                { "This result was opened from a link: nothing was trained here. " }
                <button type="button" class="primary" data-testid="rerun" disabled={!props.can_run}
                    onclick={props.on_rerun.reform(|_: MouseEvent| ())}>{ "Re-run this experiment" }</button>
                { " (same config and seed; the two results will be shown side by side)" }
            </div>
        },
        Some(Origin::File(name)) => {
            html! { <div class="origin">{ format!("Opened from the file {name}.") }</div> }
        }
        Some(Origin::Saved(_)) if !props.has_run => html! { <div class="origin">{ "A saved run." }</div> },
        _ => html! {},
    }
}

#[derive(Properties, PartialEq)]
pub struct ResumeProps {
    pub header: JournalHeader,
    pub can_resume: bool,
    pub on_resume: Callback<()>,
    pub on_discard: Callback<()>,
}

#[function_component(ResumeOffer)]
pub fn resume_offer(props: &ResumeProps) -> Html {
    html! {
        <div class="resume" role="status" data-testid="resume-offer">
            <p>{ format!("A run was interrupted: {}. Its checkpoints are kept in this browser.", props.header.describe()) }</p>
            <button type="button" class="primary" data-testid="resume" disabled={!props.can_resume}
                onclick={props.on_resume.reform(|_: MouseEvent| ())}>{ "Finish this run" }</button>
            <button type="button" data-testid="resume-discard" onclick={props.on_discard.reform(|_: MouseEvent| ())}>{ "Discard it" }</button>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ConfirmProps {
    pub question: String,
    pub on_answer: Callback<bool>,
}

/// A linked run that waits for a click (heavy, or the page is framed).
#[function_component(ConfirmRun)]
pub fn confirm_run(props: &ConfirmProps) -> Html {
    html! {
        <div class="confirm-run" role="alertdialog" data-testid="confirm-run">
            <p>{ props.question.clone() }</p>
            <button type="button" class="primary" data-testid="confirm-run-start"
                onclick={props.on_answer.reform(|_: MouseEvent| true)}>{ "Start the run" }</button>
            <button type="button" data-testid="confirm-run-cancel"
                onclick={props.on_answer.reform(|_: MouseEvent| false)}>{ "Not now" }</button>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct UpdateProps {
    pub on_reload: Callback<()>,
}

/// A newer build is deployed; this page still runs the one it was opened with.
#[function_component(UpdateBanner)]
pub fn update_banner(props: &UpdateProps) -> Html {
    html! {
        <div class="update" role="status" data-testid="update-banner">
            { "A new version of LayerLab is available. " }
            <button type="button" class="primary" data-testid="update-reload"
                onclick={props.on_reload.reform(|_: MouseEvent| ())}>{ "Reload to update" }</button>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct GuideProps {
    pub on_close: Callback<()>,
}

/// The first-visit guide.
#[function_component(Guide)]
pub fn guide(props: &GuideProps) -> Html {
    html! {
        <section class="guide" data-testid="guide">
            <h2>{ "What you are looking at" }</h2>
            <p>{ help::explanation("intro") }</p>
            <p>{ help::explanation("error") }</p>
            <p>{ "Press “Run” with the quick preset: in about 20 seconds the test-error map appears. Every map has a “?” that explains it; “Present” (or the P key) shows the result large, for a projector." }</p>
            <button type="button" data-testid="guide-close" onclick={props.on_close.reform(|_: MouseEvent| ())}>{ "Got it" }</button>
        </section>
    }
}

/// How the experiment works, before anything is on the page.
#[function_component(Intro)]
pub fn intro() -> Html {
    html! {
        <section class="intro">
            <h2>{ "How it works" }</h2>
            <p>{ "LayerLab trains the model you choose and saves every layer at the checkpoints you list (0 is the initial, random state). Then, for each layer, it puts that one layer back to a checkpoint, or to a fresh random draw (“ReRnd”), keeps all other layers trained, and measures the test error without any retraining." }</p>
            <p>{ "Layers whose reset barely changes the error are robust; layers whose reset breaks the model are critical. In the paper's fully connected network on MNIST, only the first layer is critical." }</p>
            <p>{ "Pick a preset and press Run. The whole experiment lives in the address bar: copy it to share it; after a run, “Share result link” makes a link that opens the finished result anywhere." }</p>
        </section>
    }
}
