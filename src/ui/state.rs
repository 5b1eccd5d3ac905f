//! The page's one state and its reducer. Pure Rust (no yew, no DOM), so it is tested natively;
//! the yew app wraps it in `use_reducer` and turns worker messages and clicks into [`Action`]s.

use crate::engine::budget::Estimate;
use crate::engine::config::{self, ExperimentConfig, KEYS};
use crate::engine::events::{Cell, Event};
use crate::engine::link;
use crate::engine::result::{EpochRecord, ResultFile};
use crate::runtime::protocol::{BackendChoice, DeviceReport, FromWorker, JournalHeader};
use crate::ui::url::Fragment;
use std::collections::HashMap;
use std::rc::Rc;

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Starting,
    LoadingData,
    Warmup,
    Training,
    Stopping,
    Sweeping,
    /// A stop was asked for during the sweep: the cells done so far are kept.
    StoppingSweep,
    Done,
    Failed,
}

impl Phase {
    pub fn is_active(self) -> bool {
        !matches!(self, Phase::Done | Phase::Failed)
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::LoadingData => "loading data",
            Phase::Warmup => "compiling GPU kernels",
            Phase::Training => "training",
            Phase::Stopping => "stopping",
            Phase::Sweeping => "reset sweep",
            Phase::StoppingSweep => "stopping the sweep",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

/// A run as it happens.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveRun {
    pub config: ExperimentConfig,
    pub phase: Phase,
    pub units: Vec<String>,
    pub checkpoints: Vec<usize>,
    pub parameter_count: usize,
    pub train_examples: usize,
    pub test_examples: usize,
    pub epoch: usize,
    pub done_steps: usize,
    pub total_steps: usize,
    pub samples_per_second: f64,
    /// `(loaded, total, from cache)` of the data download.
    pub data: Option<(u64, u64, bool)>,
    /// `(epoch progress, mean training loss)`.
    pub loss_points: Vec<(f64, f64)>,
    pub epochs: Vec<EpochRecord>,
    pub sweep_done: usize,
    pub sweep_total: usize,
    /// Sweep cells known so far.
    pub sweep_cells: HashMap<Cell, f64>,
}

impl LiveRun {
    fn new(config: ExperimentConfig) -> Self {
        Self {
            config,
            phase: Phase::Starting,
            units: Vec::new(),
            checkpoints: Vec::new(),
            parameter_count: 0,
            train_examples: 0,
            test_examples: 0,
            epoch: 0,
            done_steps: 0,
            total_steps: 0,
            samples_per_second: 0.0,
            data: None,
            loss_points: Vec::new(),
            epochs: Vec::new(),
            sweep_done: 0,
            sweep_total: 0,
            sweep_cells: HashMap::new(),
        }
    }

    /// Seconds left in training at the current speed.
    pub fn eta_seconds(&self) -> Option<f64> {
        if self.samples_per_second <= 0.0 || self.total_steps == 0 {
            return None;
        }
        let steps_left = self.total_steps.saturating_sub(self.done_steps) as f64;
        let examples_per_step = self.train_examples.min(self.config.batch_size).max(1) as f64;
        Some(steps_left * examples_per_step / self.samples_per_second)
    }

    pub fn steps_per_second(&self) -> f64 {
        self.samples_per_second / self.train_examples.min(self.config.batch_size).max(1) as f64
    }
}

/// The worker's condition.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerStatus {
    Loading,
    Ready,
    /// It crashed (and is being replaced); the message says why.
    Lost(String),
}

/// What the saved-runs list shows about a run (the result itself is loaded on demand).
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub id: u32,
    pub name: String,
    /// Milliseconds since the epoch.
    pub saved_at: f64,
    pub model: String,
    pub dataset: String,
    pub final_error: f64,
    /// "run" or "file".
    pub source: String,
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

/// A notice for the person: an error or a piece of information.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub error: bool,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppState {
    /// The form's values, by config key, as typed.
    pub form: Vec<(String, String)>,
    /// The form parsed, or why it does not parse.
    pub config: Result<ExperimentConfig, String>,
    pub backend: BackendChoice,
    pub worker: WorkerStatus,
    pub device: Option<DeviceReport>,
    pub run: Option<LiveRun>,
    /// The last finished result; kept when a later run fails.
    pub result: Option<Rc<ResultFile>>,
    /// Selected cell of the error map `(row, column)`.
    pub selected: Option<(usize, usize)>,
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
    /// The share link of the displayed result, or why there is none.
    pub share: Option<Result<String, String>>,
    /// Saved runs, newest first.
    pub saved: Vec<RunSummary>,
    /// Saved runs ticked for comparison.
    pub picked: Vec<u32>,
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
}

/// Keys the presentation view answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresentKey {
    Left,
    Right,
    Up,
    Down,
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
    SetThreshold(f64),
    Notice(Notice),
    DismissNotices,
    /// Show a result (a saved run, an imported file).
    OpenResult {
        result: Rc<ResultFile>,
        origin: Origin,
    },
    /// The share link of the displayed result was made (or could not be).
    ShareReady(Result<String, String>),
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
    ResumeOffered(JournalHeader),
    /// Finish the interrupted run (the app posts the request to the worker).
    ResumeRequested,
    /// Forget the interrupted run.
    ResumeDiscarded,
    /// Open or close the presentation view.
    Present(bool),
    PresentKey(PresentKey),
    /// Show or hide the form on narrow screens.
    ToggleSettings,
}

fn form_from(config: &ExperimentConfig) -> Vec<(String, String)> {
    let given: HashMap<&str, String> = config.to_pairs().into_iter().collect();
    KEYS.iter()
        .map(|(k, _)| (k.to_string(), given.get(k).cloned().unwrap_or_default()))
        .collect()
}

fn parse_form(form: &[(String, String)]) -> Result<ExperimentConfig, String> {
    ExperimentConfig::from_pairs(
        form.iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| e.to_string())
}

impl Default for AppState {
    fn default() -> Self {
        let config = ExperimentConfig::from_pairs(config::preset("quick").expect("the quick preset exists"))
            .expect("the quick preset is valid");
        Self {
            form: form_from(&config),
            config: Ok(config),
            backend: BackendChoice::Auto,
            worker: WorkerStatus::Loading,
            device: None,
            run: None,
            result: None,
            selected: None,
            threshold: crate::report::DEFAULT_THRESHOLD,
            notices: Vec::new(),
            autorun: false,
            worker_generation: 0,
            origin: None,
            shared: None,
            link_payload: None,
            share: None,
            saved: Vec::new(),
            picked: Vec::new(),
            compare: None,
            framed: false,
            confirm_run: None,
            unsaved: false,
            resumable: None,
            presenting: false,
            present_view: 0,
            settings_open: false,
        }
    }
}

impl AppState {
    pub fn field(&self, key: &str) -> &str {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.phase.is_active())
    }

    /// Whether the Run button can start a run now.
    pub fn can_run(&self) -> bool {
        self.config.is_ok() && self.worker == WorkerStatus::Ready && !self.running()
    }

    fn error(&mut self, text: impl Into<String>) {
        self.notices.push(Notice {
            error: true,
            text: text.into(),
        });
    }

    /// The reducer.
    pub fn apply(mut self, action: Action) -> Self {
        match action {
            Action::SetField { key, value } => {
                let model_changed = key == "model";
                if let Some(slot) = self.form.iter_mut().find(|(k, _)| *k == key) {
                    slot.1 = value;
                }
                if model_changed {
                    // The model decides the data set and batch norm unless the person says so.
                    let kept: Vec<(String, String)> = self
                        .form
                        .iter()
                        .filter(|(k, _)| !matches!(k.as_str(), "dataset" | "batch-norm"))
                        .cloned()
                        .collect();
                    if let Ok(c) = parse_form(&kept) {
                        self.form = form_from(&c);
                    }
                }
                self.config = parse_form(&self.form);
            }
            Action::ApplyPreset(name) => match config::preset(&name) {
                Some(pairs) => match ExperimentConfig::from_pairs(pairs) {
                    Ok(c) => {
                        self.form = form_from(&c);
                        self.config = Ok(c);
                    }
                    Err(e) => self.error(e.to_string()),
                },
                None => self.error(format!("unknown preset '{name}'")),
            },
            Action::SetBackend(b) => self.backend = b,
            Action::LoadFragment(fragment) => {
                self.backend = fragment.backend;
                if let Some(payload) = &fragment.shared {
                    match link::decode(payload) {
                        Ok(result) => {
                            self.form = form_from(&result.config);
                            self.config = Ok(result.config.clone());
                            let result = Rc::new(result);
                            self.shared = Some(result.clone());
                            self.result = Some(result);
                            self.origin = Some(Origin::Link);
                            self.link_payload = Some(payload.clone());
                            self.selected = None;
                            self.share = None;
                        }
                        Err(e) => self.error(format!("This link cannot be opened: {e}.")),
                    }
                    self.autorun = false;
                    return self;
                }
                if !fragment.pairs.is_empty() {
                    match fragment.config() {
                        Ok(c) => {
                            self.confirm_run = None;
                            self.autorun = fragment.run;
                            if fragment.run {
                                let estimate = Estimate::of(&c);
                                let why = if self.framed {
                                    Some("This page is shown inside another site, which asks to start a run.")
                                } else if estimate.heavier_than_paper_fcn() {
                                    Some("This link starts a run heavier than the paper's FCN experiment.")
                                } else {
                                    None
                                };
                                if let Some(why) = why {
                                    self.autorun = false;
                                    self.confirm_run = Some(format!(
                                        "{why} {}: {}. Start it?",
                                        c.label(),
                                        estimate.summary()
                                    ));
                                }
                            }
                            self.form = form_from(&c);
                            self.config = Ok(c);
                        }
                        Err(e) => {
                            self.error(format!("The address holds a config that does not parse: {e}"));
                            self.autorun = false;
                        }
                    }
                } else {
                    self.autorun = fragment.run && !self.framed;
                }
            }
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
                if let Ok(c) = &self.config {
                    self.run = Some(LiveRun::new(c.clone()));
                    self.selected = None;
                    self.autorun = false;
                    self.link_payload = None;
                    self.share = None;
                    self.compare = None;
                }
            }
            Action::StopRequested => {
                if let Some(run) = &mut self.run {
                    match run.phase {
                        Phase::Starting | Phase::LoadingData | Phase::Warmup | Phase::Training => {
                            run.phase = Phase::Stopping
                        }
                        Phase::Sweeping => run.phase = Phase::StoppingSweep,
                        _ => {}
                    }
                }
            }
            Action::ResumeOffered(header) => {
                if !self.running() {
                    self.resumable = Some(header);
                }
            }
            Action::ResumeRequested => {
                if let Some(header) = self.resumable.take() {
                    self.form = form_from(&header.config);
                    self.config = Ok(header.config.clone());
                    self.run = Some(LiveRun::new(header.config));
                    self.selected = None;
                    self.autorun = false;
                    self.link_payload = None;
                    self.share = None;
                    self.compare = None;
                }
            }
            Action::ResumeDiscarded => self.resumable = None,
            Action::Present(open) => {
                self.presenting = open && self.result.is_some();
                self.present_view = 0;
            }
            Action::PresentKey(key) => {
                if let (true, Some(result)) = (self.presenting, &self.result) {
                    // Rows of the test-error map: the units, then fullmodel (no ReRnd column).
                    let rows = result.units.len() + 1;
                    let (row, column) = self.selected.unwrap_or((0, 1));
                    match key {
                        PresentKey::Left => self.present_view = (self.present_view + 2) % 3,
                        PresentKey::Right => self.present_view = (self.present_view + 1) % 3,
                        PresentKey::Down if self.selected.is_some() => {
                            self.selected = Some(((row + 1) % rows, column))
                        }
                        PresentKey::Up if self.selected.is_some() => {
                            self.selected = Some(((row + rows - 1) % rows, column))
                        }
                        PresentKey::Up | PresentKey::Down => self.selected = Some((0, 1)),
                    }
                    if matches!(key, PresentKey::Up | PresentKey::Down) {
                        self.present_view = 0;
                    }
                }
            }
            Action::ToggleSettings => self.settings_open = !self.settings_open,
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
            Action::SetThreshold(t) => self.threshold = t.clamp(0.0, 1.0),
            Action::Notice(n) => self.notices.push(n),
            Action::DismissNotices => self.notices.clear(),
            Action::OpenResult { result, origin } => {
                self.form = form_from(&result.config);
                self.config = Ok(result.config.clone());
                self.result = Some(result);
                self.origin = Some(origin);
                self.selected = None;
                self.share = None;
                self.link_payload = None;
                self.compare = None;
                if !self.running() {
                    self.run = None;
                }
            }
            Action::ShareReady(share) => self.share = Some(share),
            Action::SavedLoaded(list) => self.saved = list,
            Action::SavedAdded(summary) => {
                if let Some(Origin::Run) = self.origin
                    && summary.source == "run"
                {
                    self.origin = Some(Origin::Saved(summary.id));
                    self.unsaved = false;
                }
                self.saved.insert(0, summary);
            }
            Action::SavedRenamed { id, name } => {
                if let Some(s) = self.saved.iter_mut().find(|s| s.id == id) {
                    s.name = name;
                }
            }
            Action::SavedDeleted(id) => {
                self.saved.retain(|s| s.id != id);
                self.picked.retain(|&p| p != id);
            }
            Action::TogglePick(id) => {
                if let Some(at) = self.picked.iter().position(|&p| p == id) {
                    self.picked.remove(at);
                } else {
                    self.picked.push(id);
                    if self.picked.len() > 2 {
                        self.picked.remove(0);
                    }
                }
            }
            Action::Compare(c) => self.compare = Some(c),
            Action::CloseCompare => self.compare = None,
            Action::Message(message) => self.on_message(message),
        }
        self
    }

    fn on_message(&mut self, message: FromWorker) {
        match message {
            FromWorker::Ready => self.worker = WorkerStatus::Ready,
            FromWorker::Device(report) => self.device = Some(report),
            FromWorker::Data {
                loaded_bytes,
                total_bytes,
                from_cache,
                ..
            } => {
                if let Some(run) = &mut self.run {
                    if run.phase == Phase::Starting {
                        run.phase = Phase::LoadingData;
                    }
                    run.data = Some((loaded_bytes, total_bytes, from_cache));
                }
            }
            FromWorker::DataReady {
                kind,
                train_examples,
                test_examples,
            } => {
                if !self.running() {
                    self.notices.push(Notice {
                        error: false,
                        text: format!(
                            "{} is ready: {train_examples} training and {test_examples} test images, kept in this browser.",
                            kind.name()
                        ),
                    });
                }
            }
            FromWorker::Warmup => {
                if let Some(run) = &mut self.run
                    && run.phase != Phase::Stopping
                {
                    run.phase = Phase::Warmup;
                }
            }
            FromWorker::Stopping => {
                if let Some(run) = &mut self.run {
                    match run.phase {
                        Phase::Sweeping | Phase::StoppingSweep => run.phase = Phase::StoppingSweep,
                        p if p.is_active() => run.phase = Phase::Stopping,
                        _ => {}
                    }
                }
            }
            FromWorker::Engine(event) => {
                if let Some(run) = &mut self.run {
                    apply_event(run, event);
                }
            }
            FromWorker::Finished(result) => {
                if let Some(run) = &mut self.run {
                    run.phase = Phase::Done;
                }
                let result = Rc::new(*result);
                // A re-run of a shared experiment is shown next to the shared result.
                if let Some(shared) = &self.shared
                    && shared.config == result.config
                {
                    self.compare = Some(Comparison {
                        a: ("shared result".into(), shared.clone()),
                        b: ("your re-run".into(), result.clone()),
                    });
                }
                self.result = Some(result);
                self.origin = Some(Origin::Run);
                self.unsaved = true;
                self.selected = None;
                self.share = None;
            }
            FromWorker::JournalFailed(message) => self.notices.push(Notice {
                error: false,
                text: format!(
                    "This run cannot be kept in this browser while it runs ({message}): it goes on, \
                     but a reload before it ends would lose it."
                ),
            }),
            FromWorker::Failed { message, fatal } => {
                if let Some(run) = &mut self.run
                    && run.phase.is_active()
                {
                    run.phase = Phase::Failed;
                }
                if fatal {
                    self.worker = WorkerStatus::Lost(message.clone());
                    self.worker_generation += 1;
                }
                self.error(message);
            }
        }
    }
}

fn apply_event(run: &mut LiveRun, event: Event) {
    match event {
        Event::Started {
            units,
            parameter_count,
            train_examples,
            test_examples,
            total_steps,
            ..
        } => {
            run.units = units;
            run.parameter_count = parameter_count;
            run.train_examples = train_examples;
            run.test_examples = test_examples;
            run.total_steps = total_steps;
            if matches!(run.phase, Phase::Starting | Phase::LoadingData) {
                run.phase = Phase::Warmup;
            }
        }
        Event::Step {
            epoch,
            done_steps,
            total_steps,
            samples_per_second,
        } => {
            if run.phase != Phase::Stopping {
                run.phase = Phase::Training;
            }
            run.epoch = epoch;
            run.done_steps = done_steps;
            run.total_steps = total_steps;
            run.samples_per_second = samples_per_second;
        }
        Event::Loss { epoch_progress, loss } => run.loss_points.push((epoch_progress, loss as f64)),
        // The loss curve comes from `Loss` events alone (windowed means); an epoch's mean loss
        // would put a cliff at every boundary. Epoch 0 is the untrained model's test error.
        Event::Epoch(record) => run.epochs.push(record),
        Event::Checkpoint { epoch } => run.checkpoints.push(epoch),
        Event::SweepStarted { cells } => {
            if run.phase != Phase::StoppingSweep {
                run.phase = Phase::Sweeping;
            }
            run.sweep_total = cells;
        }
        Event::SweepCell {
            done,
            total,
            cell,
            test_error,
        } => {
            if run.phase != Phase::StoppingSweep {
                run.phase = Phase::Sweeping;
            }
            run.sweep_done = done;
            run.sweep_total = total;
            run.sweep_cells.insert(cell, test_error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_change_picks_its_data_set() {
        let s = AppState::default().apply(Action::SetField {
            key: "model".into(),
            value: "vgg11".into(),
        });
        let c = s.config.clone().unwrap();
        assert_eq!(c.dataset.name(), "cifar10");
        assert_eq!(s.field("dataset"), "cifar10");
        let s = s.apply(Action::SetField {
            key: "lr".into(),
            value: "abc".into(),
        });
        assert!(s.config.is_err());
        assert!(!s.can_run());
    }

    #[test]
    fn a_run_goes_through_its_phases_and_keeps_the_old_result_on_failure() {
        let mut s = AppState::default().apply(Action::WorkerReady);
        assert!(s.can_run());
        s = s.apply(Action::RunRequested);
        assert!(s.running());
        s = s.apply(Action::Message(FromWorker::Engine(Event::Started {
            units: vec!["layer1".into()],
            parameter_count: 10,
            train_examples: 100,
            test_examples: 10,
            steps_per_epoch: 1,
            total_steps: 2,
        })));
        s = s.apply(Action::Message(FromWorker::Engine(Event::Step {
            epoch: 1,
            done_steps: 1,
            total_steps: 2,
            samples_per_second: 100.0,
        })));
        assert_eq!(s.run.as_ref().unwrap().phase, Phase::Training);
        s = s.apply(Action::StopRequested);
        assert_eq!(s.run.as_ref().unwrap().phase, Phase::Stopping);
        s = s.apply(Action::Message(FromWorker::Engine(Event::SweepCell {
            done: 1,
            total: 3,
            cell: Cell::Rerandomized { unit: 0 },
            test_error: 0.5,
        })));
        assert_eq!(s.run.as_ref().unwrap().phase, Phase::Sweeping);
        assert_eq!(s.run.as_ref().unwrap().sweep_cells.len(), 1);
        s = s.apply(Action::Message(FromWorker::Failed {
            message: "boom".into(),
            fatal: true,
        }));
        assert_eq!(s.run.as_ref().unwrap().phase, Phase::Failed);
        assert!(matches!(s.worker, WorkerStatus::Lost(_)));
        assert_eq!(s.notices.len(), 1);
    }

    #[test]
    fn heavy_or_framed_run_links_wait_for_a_click() {
        let light = crate::ui::url::parse("#model=fcn&epochs=2&train-limit=2000&run=1");
        let s = AppState::default().apply(Action::LoadFragment(light.clone()));
        assert!(s.autorun && s.confirm_run.is_none());
        let heavy = crate::ui::url::parse("#model=vgg11&width-mult=1&epochs=100&run=1");
        let s = AppState::default().apply(Action::LoadFragment(heavy));
        assert!(!s.autorun);
        assert!(
            s.confirm_run.as_deref().unwrap().contains("heavier"),
            "{:?}",
            s.confirm_run
        );
        let s = s.apply(Action::ConfirmRun(true));
        assert!(s.autorun && s.confirm_run.is_none());
        let framed = AppState {
            framed: true,
            ..AppState::default()
        }
        .apply(Action::LoadFragment(light));
        assert!(!framed.autorun && framed.confirm_run.unwrap().contains("another site"));
    }

    #[test]
    fn a_stop_during_the_sweep_is_its_own_phase() {
        let mut s = AppState::default()
            .apply(Action::WorkerReady)
            .apply(Action::RunRequested);
        s = s.apply(Action::Message(FromWorker::Engine(Event::SweepStarted {
            cells: 5,
        })));
        s = s.apply(Action::StopRequested);
        assert_eq!(s.run.as_ref().unwrap().phase, Phase::StoppingSweep);
        s = s.apply(Action::Message(FromWorker::Engine(Event::SweepCell {
            done: 2,
            total: 5,
            cell: Cell::Rerandomized { unit: 0 },
            test_error: f64::NAN,
        })));
        assert_eq!(s.run.as_ref().unwrap().phase, Phase::StoppingSweep);
        assert!(s.running());
    }

    #[test]
    fn the_presentation_walks_maps_and_cells() {
        let result =
            Rc::new(crate::engine::link::decode(&crate::engine::link::encode(&sample_result())).unwrap());
        let mut s = AppState::default().apply(Action::Present(true));
        assert!(!s.presenting, "nothing to present yet");
        s = s.apply(Action::OpenResult {
            result,
            origin: Origin::Link,
        });
        s = s.apply(Action::Present(true));
        assert!(s.presenting && s.present_view == 0);
        s = s.apply(Action::PresentKey(PresentKey::Left));
        assert_eq!(s.present_view, 2);
        s = s.apply(Action::PresentKey(PresentKey::Down));
        assert_eq!((s.present_view, s.selected), (0, Some((0, 1))));
        s = s.apply(Action::PresentKey(PresentKey::Up));
        assert_eq!(s.selected, Some((2, 1)), "wraps to the fullmodel row");
        s = s.apply(Action::Present(false));
        assert!(!s.presenting);
    }

    /// A small valid result (one unit, one checkpoint).
    fn sample_result() -> ResultFile {
        let config =
            ExperimentConfig::from_pairs([("depth", "1"), ("epochs", "1"), ("checkpoints", "0")]).unwrap();
        serde_json::from_value(serde_json::json!({
            "format": "layerlab-result", "version": 1, "config": config,
            "units": ["layer1", "layer2"], "checkpoints": [0], "final_test_error": 0.1, "history": [],
            "robustness": {"rerandomized": [0.9, 0.8], "reinitialized": [[0.5], [0.12]], "full_model": [0.9], "joint": []},
            "distance": {"l2_relative": [[0.0], [0.0]], "linf": [[0.0], [0.0]], "rerandomized_l2_relative": [1.0, 1.0], "rerandomized_linf": [1.0, 1.0]},
            "timing": {"train_seconds": 1.0, "sweep_seconds": 1.0, "samples_per_second": 1.0, "backend": "cpu"},
            "class_names": ["a", "b"], "per_class": {"trained": [], "rerandomized": [], "reinitialized": [], "full_model": []},
            "trained_epochs": 1.0, "stopped_early": false, "train_examples": 10, "test_examples": 10, "parameter_count": 1
        }))
        .unwrap()
    }

    #[test]
    fn fragment_with_bad_config_is_reported_not_run() {
        let f = crate::ui::url::parse("#lr=fast&run=1");
        let s = AppState::default().apply(Action::LoadFragment(f));
        assert!(!s.autorun);
        assert!(s.notices[0].text.contains("lr"));
    }
}
