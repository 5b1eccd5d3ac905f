//! Saved runs in IndexedDB: every finished or stopped run (and every opened link or imported
//! file) is stored as soon as it exists, so a reload, a crashed tab or a closed laptop loses
//! none of them.

use crate::engine::result::ResultFile;
use crate::runtime::js::{self, describe};
pub use crate::ui::state::RunSummary;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

const DB: &str = "layerlab";
const STORE: &str = "runs";
const DB_VERSION: u32 = 1;

/// Resolves an IDBRequest (or IDBOpenDBRequest) to its result.
async fn request(req: &web_sys::IdbRequest) -> Result<JsValue, String> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move |event: web_sys::Event| {
            let target = event.target().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
            let _ = resolve.call1(&JsValue::NULL, &js::get(&target, "result"));
        });
        let fail = Closure::once_into_js(move |event: web_sys::Event| {
            let target = event.target().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
            let _ = reject.call1(&JsValue::NULL, &js::get(&target, "error"));
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(fail.unchecked_ref()));
    });
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(|e| describe(&e))
}

async fn open() -> Result<web_sys::IdbDatabase, String> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or("this browser does not offer IndexedDB (private mode?)")?;
    let open = factory.open_with_u32(DB, DB_VERSION).map_err(|e| describe(&e))?;
    let upgrade = Closure::once_into_js(move |event: web_sys::Event| {
        let target = event.target().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        if let Ok(db) = js::get(&target, "result").dyn_into::<web_sys::IdbDatabase>()
            && !db.object_store_names().contains(STORE)
        {
            let params = web_sys::IdbObjectStoreParameters::new();
            params.set_key_path(&JsValue::from_str("id"));
            params.set_auto_increment(true);
            let _ = db.create_object_store_with_optional_parameters(STORE, &params);
        }
    });
    open.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
    let db = request(&open).await?;
    db.dyn_into().map_err(|_| "IndexedDB did not open".to_string())
}

fn store(
    db: &web_sys::IdbDatabase,
    mode: web_sys::IdbTransactionMode,
) -> Result<web_sys::IdbObjectStore, String> {
    db.transaction_with_str_and_mode(STORE, mode)
        .and_then(|t| t.object_store(STORE))
        .map_err(|e| describe(&e))
}

fn summary_of(record: &JsValue) -> Option<RunSummary> {
    Some(RunSummary {
        id: js::get(record, "id").as_f64()? as u32,
        name: js::get_string(record, "name").unwrap_or_default(),
        saved_at: js::get(record, "saved_at").as_f64().unwrap_or(0.0),
        model: js::get_string(record, "model").unwrap_or_default(),
        dataset: js::get_string(record, "dataset").unwrap_or_default(),
        final_error: js::get(record, "final_error").as_f64().unwrap_or(f64::NAN),
        source: js::get_string(record, "source").unwrap_or_default(),
    })
}

/// Stores a result; returns its summary (with the id IndexedDB gave it).
pub async fn save(result: &ResultFile, name: &str, source: &str) -> Result<RunSummary, String> {
    let db = open().await?;
    let record = Object::new();
    let now = js_sys::Date::now();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&record, &JsValue::from_str(k), &v);
    };
    set("name", name.into());
    set("saved_at", now.into());
    set("model", result.config.label().into());
    set("dataset", result.config.dataset.name().into());
    set("final_error", result.final_test_error.into());
    set("source", source.into());
    set("result", result.to_json().into());
    let req = store(&db, web_sys::IdbTransactionMode::Readwrite)?
        .add(&record)
        .map_err(|e| describe(&e))?;
    let id = request(&req).await?;
    Ok(RunSummary {
        id: id.as_f64().unwrap_or(0.0) as u32,
        name: name.into(),
        saved_at: now,
        model: result.config.label(),
        dataset: result.config.dataset.name().into(),
        final_error: result.final_test_error,
        source: source.into(),
    })
}

/// Every saved run, newest first.
pub async fn list() -> Result<Vec<RunSummary>, String> {
    let db = open().await?;
    let req = store(&db, web_sys::IdbTransactionMode::Readonly)?
        .get_all()
        .map_err(|e| describe(&e))?;
    let all: js_sys::Array = request(&req)
        .await?
        .dyn_into()
        .map_err(|_| "unexpected IndexedDB answer")?;
    let mut runs: Vec<RunSummary> = all.iter().filter_map(|r| summary_of(&r)).collect();
    runs.sort_by(|a, b| b.saved_at.total_cmp(&a.saved_at));
    Ok(runs)
}

/// The saved result `id`.
pub async fn load(id: u32) -> Result<ResultFile, String> {
    let db = open().await?;
    let req = store(&db, web_sys::IdbTransactionMode::Readonly)?
        .get(&JsValue::from(id))
        .map_err(|e| describe(&e))?;
    let record = request(&req).await?;
    let text = js::get_string(&record, "result").ok_or("this saved run is gone")?;
    ResultFile::from_json(&text).map_err(|e| e.to_string())
}

/// Renames the saved run `id`.
pub async fn rename(id: u32, name: &str) -> Result<(), String> {
    let db = open().await?;
    let store = store(&db, web_sys::IdbTransactionMode::Readwrite)?;
    let record = request(&store.get(&JsValue::from(id)).map_err(|e| describe(&e))?).await?;
    if record.is_undefined() {
        return Err("this saved run is gone".into());
    }
    let _ = Reflect::set(&record, &JsValue::from_str("name"), &JsValue::from_str(name));
    request(&store.put(&record).map_err(|e| describe(&e))?)
        .await
        .map(|_| ())
}

/// Deletes the saved run `id`.
pub async fn delete(id: u32) -> Result<(), String> {
    let db = open().await?;
    let req = store(&db, web_sys::IdbTransactionMode::Readwrite)?
        .delete(&JsValue::from(id))
        .map_err(|e| describe(&e))?;
    request(&req).await.map(|_| ())
}
