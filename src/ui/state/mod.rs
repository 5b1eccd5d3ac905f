//! The page's one state and its reducer. Pure Rust (no yew, no DOM), so it is tested natively;
//! the yew app wraps it in `use_reducer` and turns worker messages and clicks into [`Action`]s.
//!
//! Split by concern: the form ([`form`]), the run in progress ([`run`]), the saved runs
//! ([`saved`]), the presentation view ([`present`]), what the address and the worker send
//! (`inbound`); this file holds the whole and routes each action to its part.

pub mod form;
mod inbound;
mod notice;
pub mod present;
pub mod run;
pub mod saved;
#[cfg(test)]
mod tests;

pub use form::Form;
pub use notice::{Notice, NoticeKind, ShareLink};
pub use present::PresentKey;
pub use run::{LiveRun, Phase};
pub use saved::{RunSource, RunSummary, SavedRuns};

use crate::engine::result::ResultFile;
use crate::runtime::protocol::{
    BackendChoice, DeviceReport, EngineKind, FromWorker, GpuAdapter, JournalHeader,
};
use crate::ui::url::Fragment;
use std::rc::Rc;

/// The worker's condition.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerStatus {
    Loading,
    Ready,
    /// It crashed (and is being replaced); the message says why.
    Lost(String),
}

/// Where the displayed result came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    Run,
    Saved(u32),
    Link,
    File(String),
}

/// Two results side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub a: (String, Rc<ResultFile>),
    pub b: (String, Rc<ResultFile>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppState {
    pub form: Form,
    pub backend: BackendChoice,
    /// Whether the browser offers a hardware WebGPU adapter (`None` until asked).
    pub gpu: Option<GpuAdapter>,
    /// The engine worker the page loads for `backend` (`None` until the adapter is known).
    pub engine: Option<EngineKind>,
    pub worker: WorkerStatus,
    pub device: Option<DeviceReport>,
    pub run: Option<LiveRun>,
    /// The last finished result; kept when a later run fails.
    pub result: Option<Rc<ResultFile>>,
    /// Selected cell of the error map `(row, column)`.
    pub selected: Option<(usize, usize)>,
    /// A study: the run whose maps and curves are shown (0, the first, to begin with).
    pub study_pick: usize,
    /// Error increase that makes a unit critical.
    pub threshold: f64,
    pub notices: Vec<Notice>,
    /// `run=1` was in the address: start as soon as the worker is ready.
    pub autorun: bool,
    /// Bumped when the worker must be replaced (the app respawns it).
    pub worker_generation: u32,
    /// Where the displayed result came from.
    pub origin: Option<Origin>,
    /// The result a shared link carried (kept for the comparison after a re-run).
    pub shared: Option<Rc<ResultFile>>,
    /// The link's payload, kept in the address while its result is shown.
    pub link_payload: Option<String>,
    /// The share link of the displayed result, once asked for.
    pub share: Option<ShareLink>,
    pub saved: SavedRuns,
    pub compare: Option<Comparison>,
    /// The page is inside another site's frame: nothing starts without a click.
    pub framed: bool,
    /// A `run=1` address that waits for a click, and why (heavy, or framed).
    pub confirm_run: Option<String>,
    /// The displayed result of a run is not (yet) in IndexedDB: leaving would lose it.
    pub unsaved: bool,
    /// An interrupted run the journal holds, offered to be finished.
    pub resumable: Option<JournalHeader>,
    /// The presentation view is open, on map `present_view` (0 error, 1 ℓ2, 2 ℓ∞).
    pub presenting: bool,
    pub present_view: usize,
    /// The experiment form is shown on narrow screens even though a result is (phones show the
    /// result first, the form behind a button).
    pub settings_open: bool,
    /// A newer build of the page is deployed (the service worker saw it): offer to reload.
    pub update_available: bool,
    /// Whether the CPU engine waits for the page to become cross-origin isolated (its threads).
    pub isolation: Isolation,
}

/// A first visit cannot share memory between threads: the service worker that adds the headers
/// for it is only installing. The CPU engine then waits for it, and the page reloads once it is
/// in control, before anything has started (a few seconds at most; then it goes on with one
/// thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Nothing to wait for: isolated already, or it cannot be had on this visit.
    Settled,
    /// The service worker is installing; the CPU engine is not loaded yet.
    Pending,
    /// The service worker is in control: the app reloads the page.
    Reload,
}

/// Everything that can happen to the page.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    SetField {
        key: String,
        value: String,
    },
    ApplyPreset(String),
    SetBackend(BackendChoice),
    LoadFragment(Fragment),
    WorkerReady,
    WorkerLost(String),
    Message(FromWorker),
    /// The Run button (the app posts the config to the worker).
    RunRequested,
    /// The Stop button.
    StopRequested,
    Select(Option<(usize, usize)>),
    /// Show run number `n` of the displayed study.
    PickStudyRun(usize),
    SetThreshold(f64),
    Notice(Notice),
    DismissNotices,
    /// Show a result (a saved run, an imported file).
    OpenResult {
        result: Rc<ResultFile>,
        origin: Origin,
    },
    /// The share link of the displayed result was made (or could not be).
    ShareReady(ShareLink),
    SavedLoaded(Vec<RunSummary>),
    SavedAdded(RunSummary),
    SavedRenamed {
        id: u32,
        name: String,
    },
    SavedDeleted(u32),
    TogglePick(u32),
    Compare(Comparison),
    CloseCompare,
    /// The person confirmed (or declined) the run a `run=1` address asked for.
    ConfirmRun(bool),
    /// Saving the displayed run in IndexedDB failed (a full quota, private mode).
    SaveFailed(String),
    /// The journal holds an interrupted run (read at start-up).
    /// Boxed: a header holds a whole config.
    ResumeOffered(Box<JournalHeader>),
    /// Finish the interrupted run (the app posts the request to the worker).
    ResumeRequested,
    /// Forget the interrupted run.
    ResumeDiscarded,
    /// Open or close the presentation view.
    Present(bool),
    PresentKey(PresentKey),
    /// Show or hide the form on narrow screens.
    ToggleSettings,
    /// The service worker found a newer build of the page.
    UpdateAvailable,
    /// The browser was asked for a WebGPU adapter: what it has.
    GpuProbed(GpuAdapter),
    /// The service worker took control of the page (its headers apply from the next load).
    ServiceWorkerInControl,
    /// Cross-origin isolation will not come on this visit (no service worker, or too slow).
    IsolationSettled,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            form: Form::preset("quick").expect("the quick preset is valid"),
            backend: BackendChoice::Auto,
            gpu: None,
            engine: None,
            worker: WorkerStatus::Loading,
            device: None,
            run: None,
            result: None,
            selected: None,
            study_pick: 0,
            threshold: crate::report::DEFAULT_THRESHOLD,
            notices: Vec::new(),
            autorun: false,
            worker_generation: 0,
            origin: None,
            shared: None,
            link_payload: None,
            share: None,
            saved: SavedRuns::default(),
            compare: None,
            framed: false,
            confirm_run: None,
            unsaved: false,
            resumable: None,
            presenting: false,
            present_view: 0,
            settings_open: false,
            update_available: false,
            isolation: Isolation::Settled,
        }
    }
}

impl AppState {
    pub fn field(&self, key: &str) -> &str {
        self.form.value(key)
    }

    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.phase.is_active())
    }

    /// Whether the Run button can start a run now.
    pub fn can_run(&self) -> bool {
        self.form.config.is_ok() && self.worker == WorkerStatus::Ready && !self.running()
    }

    /// Loads the engine worker the backend choice needs, when it is not the one loaded (never
    /// during a run: the form's backend is locked then).
    pub(super) fn pick_engine(&mut self) {
        let Some(adapter) = self.gpu else {
            return;
        };
        let kind = EngineKind::for_choice(self.backend, adapter);
        if kind == EngineKind::Cpu && self.isolation != Isolation::Settled {
            return;
        }
        if self.engine != Some(kind) && !self.running() {
            self.engine = Some(kind);
            self.worker = WorkerStatus::Loading;
            self.device = None;
            self.worker_generation += 1;
        }
    }

    fn error(&mut self, text: impl Into<String>) {
        self.notices.push(Notice::error(text));
    }

    /// Shows `result` with its config in the form, nothing selected and no share link yet.
    fn show(&mut self, result: Rc<ResultFile>, origin: Origin) {
        self.form = Form::of(result.config.clone());
        self.result = Some(result);
        self.origin = Some(origin);
        self.selected = None;
        self.study_pick = 0;
        self.share = None;
    }

    /// The result whose maps and curves the page draws: the displayed result, or for a study
    /// the picked run's own (when the file holds it; a link holds the first run's only).
    pub fn shown_result(&self) -> Option<Rc<ResultFile>> {
        let result = self.result.as_ref()?;
        let picked = result
            .study
            .as_ref()
            .and_then(|s| s.runs.get(self.study_pick))
            .and_then(|run| run.result.as_deref());
        match picked {
            Some(run) if self.study_pick > 0 => Some(Rc::new(run.clone())),
            _ => Some(result.clone()),
        }
    }

    /// A run starts (fresh or resumed): it replaces what the page showed of the last one.
    fn start(&mut self, config: crate::engine::ExperimentConfig) {
        self.run = Some(LiveRun::new(config));
        self.selected = None;
        self.autorun = false;
        self.link_payload = None;
        self.share = None;
        self.compare = None;
    }

    /// The reducer.
    pub fn apply(mut self, action: Action) -> Self {
        match action {
            Action::SetField { key, value } => self.form.set(&key, value),
            Action::ApplyPreset(name) => match Form::preset(&name) {
                Ok(form) => self.form = form,
                Err(e) => self.error(e.to_string()),
            },
            Action::SetBackend(b) => {
                self.backend = b;
                self.pick_engine();
            }
            Action::GpuProbed(adapter) => {
                self.gpu = Some(adapter);
                self.pick_engine();
            }
            Action::LoadFragment(fragment) => self.load_fragment(fragment),
            Action::WorkerReady => self.worker = WorkerStatus::Ready,
            Action::WorkerLost(message) => {
                self.worker = WorkerStatus::Lost(message.clone());
                self.worker_generation += 1;
                if let Some(run) = &mut self.run
                    && run.phase.is_active()
                {
                    run.phase = Phase::Failed;
                }
                self.error(format!(
                    "The engine stopped unexpectedly ({message}). Results already shown are kept; \
                     a new engine is starting."
                ));
            }
            Action::RunRequested => {
                // A new run replaces the interrupted one in the journal.
                self.resumable = None;
                if let Ok(c) = &self.form.config {
                    let c = c.clone();
                    self.start(c);
                }
            }
            Action::StopRequested => {
                if let Some(run) = &mut self.run {
                    run.stop_requested();
                }
            }
            Action::ResumeOffered(header) => {
                if !self.running() {
                    self.resumable = Some(*header);
                }
            }
            Action::ResumeRequested => {
                if let Some(header) = self.resumable.take() {
                    self.form = Form::of(header.config.clone());
                    self.start(header.config);
                }
            }
            Action::ResumeDiscarded => self.resumable = None,
            Action::Present(open) => {
                self.presenting = open && self.result.is_some();
                self.present_view = 0;
            }
            Action::PresentKey(key) => self.present_key(key),
            Action::ToggleSettings => self.settings_open = !self.settings_open,
            Action::UpdateAvailable => self.update_available = true,
            // Reloaded only for the CPU engine (the WebGPU one has no use for it), and only while
            // the page shows nothing a reload would lose or redo.
            Action::ServiceWorkerInControl => {
                if self.isolation == Isolation::Pending {
                    let wants_cpu = self.gpu.is_none_or(|adapter| {
                        EngineKind::for_choice(self.backend, adapter) == EngineKind::Cpu
                    });
                    let idle = !self.running()
                        && !self.unsaved
                        && self.result.is_none()
                        && self.compare.is_none()
                        && self.link_payload.is_none();
                    self.isolation = if wants_cpu && idle {
                        Isolation::Reload
                    } else {
                        Isolation::Settled
                    };
                    self.pick_engine();
                }
            }
            Action::IsolationSettled => {
                if self.isolation == Isolation::Pending {
                    self.isolation = Isolation::Settled;
                    self.pick_engine();
                }
            }
            Action::ConfirmRun(start) => {
                self.confirm_run = None;
                self.autorun = start;
            }
            Action::SaveFailed(message) => {
                self.error(format!(
                    "This run could not be saved in this browser ({message}). It stays open here: \
                     download the result file to keep it."
                ));
            }
            Action::Select(cell) => self.selected = cell,
            Action::PickStudyRun(n) => {
                let runs = self
                    .result
                    .as_ref()
                    .and_then(|r| r.study.as_ref())
                    .map_or(0, |s| s.runs.len());
                if n < runs {
                    self.study_pick = n;
                    self.selected = None;
                    if let Some(picked) = self.shown_result() {
                        self.form = Form::of(picked.config.clone());
                    }
                }
            }
            Action::SetThreshold(t) => self.threshold = t.clamp(0.0, 1.0),
            Action::Notice(n) => self.notices.push(n),
            Action::DismissNotices => self.notices.clear(),
            Action::OpenResult { result, origin } => {
                self.show(result, origin);
                self.link_payload = None;
                self.compare = None;
                if !self.running() {
                    self.run = None;
                }
            }
            Action::ShareReady(share) => self.share = Some(share),
            Action::SavedLoaded(list) => self.saved.runs = list,
            Action::SavedAdded(summary) => {
                if let Some(Origin::Run) = self.origin
                    && summary.source == RunSource::Run
                {
                    self.origin = Some(Origin::Saved(summary.id));
                    self.unsaved = false;
                }
                self.saved.added(summary);
            }
            Action::SavedRenamed { id, name } => self.saved.renamed(id, name),
            Action::SavedDeleted(id) => self.saved.deleted(id),
            Action::TogglePick(id) => self.saved.toggle_pick(id),
            Action::Compare(c) => self.compare = Some(c),
            Action::CloseCompare => self.compare = None,
            Action::Message(message) => self.on_message(message),
        }
        self
    }
}
