//! What the page does beyond its state: saved runs and the journal in IndexedDB, opening
//! files. Each effect runs asynchronously and reports back as an [`Action`].

use crate::engine::result::ResultFile;
use crate::runtime::journal;
use crate::ui::dom;
use crate::ui::engine::EngineSlot;
use crate::ui::state::{Action, Comparison, Notice, Origin, RunSource, SavedRuns};
use crate::ui::storage;
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use yew::Callback;

/// Largest file the page reads as a result.
const MAX_RESULT_FILE_BYTES: f64 = 64.0 * 1024.0 * 1024.0;

fn error(dispatch: &Callback<Action>, text: String) {
    dispatch.emit(Action::Notice(Notice::error(text)));
}

/// Keeps a result in IndexedDB and adds it to the list. A failure (a full quota) leaves the
/// result open and says so.
pub fn save(result: ResultFile, name: String, source: RunSource, dispatch: Callback<Action>) {
    spawn_local(async move {
        match storage::save(&result, &name, source).await {
            Ok(summary) => dispatch.emit(Action::SavedAdded(summary)),
            Err(e) => dispatch.emit(Action::SaveFailed(e.to_string())),
        }
    });
}

/// Saves a run the worker just finished.
pub fn save_finished(result: &ResultFile, dispatch: Callback<Action>) {
    let name = format!("{} · {}", result.config.label(), result.config.seed_label());
    save(result.clone(), name, RunSource::Run, dispatch);
}

/// Loads the saved-runs list.
pub fn list_saved(dispatch: Callback<Action>) {
    spawn_local(async move {
        match storage::list().await {
            Ok(list) => dispatch.emit(Action::SavedLoaded(list)),
            Err(e) => error(&dispatch, format!("Saved runs are unavailable: {e}")),
        }
    });
}

/// Offers the interrupted run the journal holds, if there is one.
pub fn offer_resume(dispatch: Callback<Action>) {
    spawn_local(async move {
        match journal::header().await {
            Ok(Some(header)) => dispatch.emit(Action::ResumeOffered(Box::new(header))),
            Ok(None) => {}
            Err(e) => error(
                &dispatch,
                format!("An interrupted run could not be read back: {e}"),
            ),
        }
    });
}

pub fn discard_resume(dispatch: Callback<Action>) {
    spawn_local(async move {
        match journal::clear().await {
            Ok(()) => dispatch.emit(Action::ResumeDiscarded),
            Err(e) => error(
                &dispatch,
                format!("The interrupted run could not be discarded: {e}"),
            ),
        }
    });
}

pub fn open_saved(id: u32, dispatch: Callback<Action>) {
    spawn_local(async move {
        match storage::load(id).await {
            Ok(result) => dispatch.emit(Action::OpenResult {
                result: Rc::new(result),
                origin: Origin::Saved(id),
            }),
            Err(e) => error(&dispatch, format!("This saved run cannot be opened: {e}")),
        }
    });
}

/// Asks for a new name, then renames the saved run.
pub fn rename_saved(id: u32, current: &str, dispatch: Callback<Action>) {
    let Ok(Some(name)) = dom::window().prompt_with_message_and_default("New name for this run", current)
    else {
        return;
    };
    let name = name.trim().to_string();
    if name.is_empty() {
        return;
    }
    spawn_local(async move {
        match storage::rename(id, &name).await {
            Ok(()) => dispatch.emit(Action::SavedRenamed { id, name }),
            Err(e) => error(&dispatch, format!("The run could not be renamed: {e}")),
        }
    });
}

/// Asks first, then deletes the saved run.
pub fn delete_saved(id: u32, dispatch: Callback<Action>) {
    if !dom::window()
        .confirm_with_message("Delete this saved run?")
        .unwrap_or(false)
    {
        return;
    }
    spawn_local(async move {
        match storage::delete(id).await {
            Ok(()) => dispatch.emit(Action::SavedDeleted(id)),
            Err(e) => error(&dispatch, format!("The run could not be deleted: {e}")),
        }
    });
}

/// Loads the two ticked runs and shows them side by side.
pub fn compare_picked(saved: &SavedRuns, dispatch: Callback<Action>) {
    let [a, b] = saved.picked.as_slice() else {
        return;
    };
    let (a, b) = (*a, *b);
    let name = |id| saved.name_of(id).unwrap_or_default().to_string();
    let (name_a, name_b) = (name(a), name(b));
    spawn_local(async move {
        match (storage::load(a).await, storage::load(b).await) {
            (Ok(ra), Ok(rb)) => dispatch.emit(Action::Compare(Comparison {
                a: (name_a, Rc::new(ra)),
                b: (name_b, Rc::new(rb)),
            })),
            (Err(e), _) | (_, Err(e)) => error(&dispatch, format!("A run could not be loaded: {e}")),
        }
    });
}

/// Opens a dropped or chosen file: a result (JSON) or a CIFAR-10 archive (for the worker).
pub fn import_file(file: web_sys::File, dispatch: Callback<Action>, engine: EngineSlot) {
    let name = file.name();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") || lower.ends_with(".tar") {
        let limit = crate::engine::data::cifar::MAX_ARCHIVE_BYTES as f64;
        if file.size() > limit {
            return error(
                &dispatch,
                format!(
                    "{name} is {:.0} MB, more than the {:.0} MB a CIFAR-10 archive can be (the official one is 163 MB). Nothing was changed.",
                    file.size() / 1e6,
                    limit / 1e6
                ),
            );
        }
        dispatch.emit(Action::Notice(Notice::info(format!("Reading {name}…"))));
        if let Err(e) = engine.import_data(&file) {
            error(&dispatch, e.to_string());
        }
        return;
    }
    if file.size() > MAX_RESULT_FILE_BYTES {
        return error(&dispatch, format!("{name} is too large to be a LayerLab result."));
    }
    spawn_local(async move {
        let bytes = match dom::read_bytes(&file).await {
            Ok(b) => b,
            Err(e) => return error(&dispatch, format!("{name} cannot be read: {e}")),
        };
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|_| "it is not text".to_string())
            .and_then(|text| ResultFile::from_json(text).map_err(|e| e.to_string()));
        match parsed {
            Ok(result) => {
                let label = format!("{name} ({})", result.config.label());
                save(result.clone(), label, RunSource::File, dispatch.clone());
                dispatch.emit(Action::OpenResult {
                    result: Rc::new(result),
                    origin: Origin::File(name),
                });
            }
            Err(e) => error(
                &dispatch,
                format!("{name} cannot be opened: {e}. Nothing was changed."),
            ),
        }
    });
}
