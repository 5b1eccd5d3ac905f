//! The page's commands to the engine: start, resume and stop a run, hand over a data archive.
//! One [`EngineSlot`] holds the worker (replaced after a crash) and speaks the protocol.

use crate::engine::data::DatasetKind;
use crate::runtime::bridge::EngineWorker;
use crate::runtime::error::RuntimeError;
use crate::runtime::protocol::{EngineKind, FromWorker, ToWorker};
use crate::ui::state::{Action, AppState, Notice, WorkerStatus};
use crate::ui::{dom, effects};
use std::cell::RefCell;
use std::rc::Rc;
use yew::Callback;

/// The data manifest (`<meta name="layerlab-data">`, written by layerlab-stage; unhashed when
/// the page is served without that step).
const MANIFEST_URL: &str = "data/manifest.json";

fn manifest_url() -> String {
    dom::absolute(&dom::meta("layerlab-data").unwrap_or_else(|| MANIFEST_URL.into()))
}

/// The running worker, if any; cloned handles share it.
#[derive(Clone, Default)]
pub struct EngineSlot(Rc<RefCell<Option<EngineWorker>>>);

impl PartialEq for EngineSlot {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl EngineSlot {
    /// Starts the `kind` worker (dropping the old one); its messages become actions, and a
    /// finished run is saved at once. Its script is the content-hashed loader the page names in
    /// `<meta name="layerlab-worker…">`, else trunk's unhashed one. The CPU engine is the one
    /// built with WebAssembly threads where the page can run it (cross-origin isolated), and the
    /// compat one where the browser lacks relaxed SIMD (which the other two need).
    pub fn spawn(&self, kind: EngineKind, dispatch: Callback<Action>) -> Result<(), RuntimeError> {
        let relaxed = kind != EngineKind::Cpu || dom::relaxed_simd();
        let name = if relaxed {
            kind.worker_name()
        } else {
            EngineKind::COMPAT_CPU_WORKER
        };
        let threaded = (kind == EngineKind::Cpu && relaxed && dom::cross_origin_isolated())
            .then(|| dom::meta(EngineKind::THREADED_CPU_WORKER))
            .flatten();
        let url = threaded
            .or_else(|| dom::meta(name))
            .unwrap_or_else(|| format!("./{name}_loader.js"));
        let lost = dispatch.clone();
        let worker = EngineWorker::spawn(
            &url,
            move |message| match message {
                Ok(message) => {
                    if let FromWorker::Finished(result) = &message {
                        effects::save_finished(result, dispatch.clone());
                    }
                    dispatch.emit(Action::Message(message));
                }
                Err(e) => dispatch.emit(Action::Notice(Notice::error(e.to_string()))),
            },
            move |why| lost.emit(Action::WorkerLost(why)),
        )?;
        *self.0.borrow_mut() = Some(worker);
        Ok(())
    }

    fn post(&self, message: &ToWorker) {
        if let Some(worker) = self.0.borrow().as_ref() {
            worker.post(message);
        }
    }

    /// Starts a run with the form's config, if the state allows one.
    pub fn run(&self, state: &AppState, dispatch: &Callback<Action>) {
        let Ok(config) = state.form.config.clone() else {
            return;
        };
        if !state.can_run() {
            return;
        }
        let message = ToWorker::Run {
            config: Box::new(config),
            backend: state.backend,
            manifest_url: manifest_url(),
        };
        if self.0.borrow().is_some() {
            dispatch.emit(Action::RunRequested);
            self.post(&message);
        }
    }

    /// Finishes the interrupted run the journal holds.
    pub fn resume(&self, state: &AppState, dispatch: &Callback<Action>) {
        if state.resumable.is_none() || state.worker != WorkerStatus::Ready || state.running() {
            return;
        }
        if self.0.borrow().is_some() {
            dispatch.emit(Action::ResumeRequested);
            self.post(&ToWorker::Resume {
                backend: state.backend,
                manifest_url: manifest_url(),
            });
        }
    }

    pub fn stop(&self, dispatch: &Callback<Action>) {
        dispatch.emit(Action::StopRequested);
        self.post(&ToWorker::Stop);
    }

    /// Hands a CIFAR-10 archive to the worker, which reads and checks it itself.
    pub fn import_data(&self, file: &web_sys::File) -> Result<(), RuntimeError> {
        let message = ToWorker::ImportData {
            kind: DatasetKind::Cifar10,
            file_name: file.name(),
        };
        match self.0.borrow().as_ref() {
            Some(worker) => {
                worker.post_with_file(&message, file);
                Ok(())
            }
            None => Err(RuntimeError::Engine(
                // It starts within seconds (a first visit waits for its service worker, a
                // crashed engine is restarted): the archive can simply be dropped again.
                "The engine is still starting: drop the archive again once it says it is ready.".into(),
            )),
        }
    }
}
