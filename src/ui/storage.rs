//! Saved runs in IndexedDB: every finished or stopped run (and every opened link or imported
//! file) is stored as soon as it exists, so a reload, a crashed tab or a closed laptop loses
//! none of them. A write reports success only once IndexedDB has committed it.

use crate::engine::result::ResultFile;
use crate::runtime::error::RuntimeError;
use crate::runtime::idb;
use crate::runtime::js;
pub use crate::ui::state::{RunSource, RunSummary};
use js_sys::{Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

const DB: &str = "layerlab";
const STORE: &str = "runs";
const DB_VERSION: u32 = 1;

async fn open() -> Result<web_sys::IdbDatabase, RuntimeError> {
    idb::open(DB, DB_VERSION, &[STORE], true).await
}

fn summary_of(record: &JsValue) -> Option<RunSummary> {
    Some(RunSummary {
        id: js::get(record, "id").as_f64()? as u32,
        name: js::get_string(record, "name").unwrap_or_default(),
        saved_at: js::get(record, "saved_at").as_f64().unwrap_or(0.0),
        // "model" in runs saved before the field was named for what it holds.
        label: js::get_string(record, "label")
            .or_else(|| js::get_string(record, "model"))
            .unwrap_or_default(),
        dataset: js::get_string(record, "dataset").unwrap_or_default(),
        final_error: js::get(record, "final_error").as_f64().unwrap_or(f64::NAN),
        source: js::get_string(record, "source")
            .and_then(|s| RunSource::parse(&s))
            .unwrap_or(RunSource::File),
    })
}

/// Stores a result; returns its summary (with the id IndexedDB gave it).
pub async fn save(result: &ResultFile, name: &str, source: RunSource) -> Result<RunSummary, RuntimeError> {
    let db = open().await?;
    let record = Object::new();
    let now = js_sys::Date::now();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&record, &JsValue::from_str(k), &v);
    };
    set("name", name.into());
    set("saved_at", now.into());
    set("label", result.config.label().into());
    set("dataset", result.config.dataset.name().into());
    set("final_error", result.final_test_error.into());
    set("source", source.name().into());
    set("result", result.to_json().into());
    let id = idb::write(&db, STORE, |store| store.add(&record)).await?;
    Ok(RunSummary {
        id: id.as_f64().unwrap_or(0.0) as u32,
        name: name.into(),
        saved_at: now,
        label: result.config.label(),
        dataset: result.config.dataset.name().into(),
        final_error: result.final_test_error,
        source,
    })
}

/// Every saved run, newest first.
pub async fn list() -> Result<Vec<RunSummary>, RuntimeError> {
    let db = open().await?;
    let req = idb::reading(&db, STORE)?.get_all()?;
    let all: js_sys::Array = idb::request(&req)
        .await?
        .dyn_into()
        .map_err(|_| RuntimeError::Storage("unexpected IndexedDB answer".into()))?;
    let mut runs: Vec<RunSummary> = all.iter().filter_map(|r| summary_of(&r)).collect();
    runs.sort_by(|a, b| b.saved_at.total_cmp(&a.saved_at));
    Ok(runs)
}

async fn record(db: &web_sys::IdbDatabase, id: u32) -> Result<JsValue, RuntimeError> {
    let req = idb::reading(db, STORE)?.get(&JsValue::from(id))?;
    let record = idb::request(&req).await?;
    if record.is_undefined() {
        return Err(RuntimeError::Storage("this saved run is gone".into()));
    }
    Ok(record)
}

/// The saved result `id`.
pub async fn load(id: u32) -> Result<ResultFile, RuntimeError> {
    let db = open().await?;
    let text = js::get_string(&record(&db, id).await?, "result")
        .ok_or_else(|| RuntimeError::Storage("this saved run is damaged".into()))?;
    ResultFile::from_json(&text).map_err(|e| RuntimeError::Storage(e.to_string()))
}

/// Renames the saved run `id`.
pub async fn rename(id: u32, name: &str) -> Result<(), RuntimeError> {
    let db = open().await?;
    let record = record(&db, id).await?;
    let _ = Reflect::set(&record, &JsValue::from_str("name"), &JsValue::from_str(name));
    idb::write(&db, STORE, |store| store.put(&record))
        .await
        .map(|_| ())
}

/// Deletes the saved run `id`.
pub async fn delete(id: u32) -> Result<(), RuntimeError> {
    let db = open().await?;
    idb::write(&db, STORE, |store| store.delete(&JsValue::from(id)))
        .await
        .map(|_| ())
}
