//! What reaches the page from outside: the address (a config, `run=1`, a shared result) and
//! the worker's messages.

use super::{AppState, Comparison, Form, Notice, Origin, Phase, WorkerStatus};
use crate::engine::budget::Estimate;
use crate::engine::link;
use crate::runtime::protocol::FromWorker;
use crate::ui::url::Fragment;
use std::rc::Rc;

impl AppState {
    pub(super) fn load_fragment(&mut self, fragment: Fragment) {
        self.backend = fragment.backend;
        self.pick_engine();
        if let Some(payload) = &fragment.shared {
            match link::decode(payload) {
                Ok(result) => {
                    let result = Rc::new(result);
                    self.shared = Some(result.clone());
                    self.show(result, Origin::Link);
                    self.link_payload = Some(payload.clone());
                }
                Err(e) => self.error(format!("This link cannot be opened: {e}.")),
            }
            self.autorun = false;
            return;
        }
        if fragment.pairs.is_empty() {
            self.autorun = fragment.run && !self.framed;
            return;
        }
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
                        self.confirm_run =
                            Some(format!("{why} {}: {}. Start it?", c.label(), estimate.summary()));
                    }
                }
                self.form = Form::of(c);
            }
            Err(e) => {
                self.error(format!("The address holds a config that does not parse: {e}"));
                self.autorun = false;
            }
        }
    }

    pub(super) fn on_message(&mut self, message: FromWorker) {
        match message {
            FromWorker::Ready => self.worker = WorkerStatus::Ready,
            FromWorker::Device(report) => self.device = Some(report),
            FromWorker::Phase(phase) => {
                if let Some(run) = &mut self.run {
                    run.entered(phase);
                }
            }
            FromWorker::Data {
                loaded_bytes,
                total_bytes,
                from_cache,
                ..
            } => {
                if let Some(run) = &mut self.run {
                    run.data = Some((loaded_bytes, total_bytes, from_cache));
                }
            }
            FromWorker::DataReady {
                kind,
                train_examples,
                test_examples,
            } => {
                if !self.running() {
                    self.notices.push(Notice::info(format!(
                        "{} is ready: {train_examples} training and {test_examples} test images, kept in this browser.",
                        kind.name()
                    )));
                }
            }
            FromWorker::Engine(event) => {
                if let Some(run) = &mut self.run {
                    run.record(event);
                }
            }
            FromWorker::Events(events) => {
                if let Some(run) = &mut self.run {
                    for event in events {
                        run.record(event);
                    }
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
                self.study_pick = 0;
                self.share = None;
            }
            FromWorker::JournalFailed(message) => self.notices.push(Notice::info(format!(
                "This run cannot be kept in this browser while it runs ({message}): it goes on, \
                 but a reload before it ends would lose it."
            ))),
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
