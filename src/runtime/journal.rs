//! The run journal: what the worker keeps in IndexedDB while a run is under way (its config,
//! every checkpoint's weights, training's summary, the trained weights, each sweep cell), so a
//! reload or a crash can finish the run instead of losing it. One run at a time; a new run or a
//! finished one clears it. The page reads only the header, to offer the resume.

use crate::runtime::error::RuntimeError;
use crate::runtime::idb;
use crate::runtime::protocol::JournalHeader;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

const DB: &str = "layerlab-journal";
const STORE: &str = "journal";
const HEADER: &str = "header";

async fn open() -> Result<web_sys::IdbDatabase, RuntimeError> {
    idb::open(DB, 1, &[STORE], false).await
}

async fn get(key: &str) -> Result<JsValue, RuntimeError> {
    let db = open().await?;
    let req = idb::reading(&db, STORE)?.get(&JsValue::from_str(key))?;
    idb::request(&req).await
}

async fn put(key: &str, value: &JsValue) -> Result<(), RuntimeError> {
    let db = open().await?;
    idb::write(&db, STORE, |store| {
        store.put_with_key(value, &JsValue::from_str(key))
    })
    .await
    .map(|_| ())
}

/// Stores `value` as JSON under `key`.
pub async fn put_json(key: &str, value: &impl Serialize) -> Result<(), RuntimeError> {
    let text = serde_json::to_string(value).map_err(|e| RuntimeError::Storage(e.to_string()))?;
    put(key, &JsValue::from_str(&text)).await
}

/// The JSON under `key`, if any (a malformed entry is an error).
pub async fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, RuntimeError> {
    match get(key).await?.as_string() {
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RuntimeError::Storage(format!("the stored {key} is damaged: {e}"))),
        None => Ok(None),
    }
}

/// Stores floats under `key` (as a `Float32Array`, without a text detour).
pub async fn put_floats(key: &str, values: &[f32]) -> Result<(), RuntimeError> {
    put(key, &js_sys::Float32Array::from(values).into()).await
}

/// The floats under `key`, if any.
pub async fn get_floats(key: &str) -> Result<Option<Vec<f32>>, RuntimeError> {
    let value = get(key).await?;
    if value.is_undefined() {
        return Ok(None);
    }
    value
        .dyn_into::<js_sys::Float32Array>()
        .map(|a| Some(a.to_vec()))
        .map_err(|_| RuntimeError::Storage(format!("the stored {key} is damaged")))
}

/// The journal's header: `Some` when an unfinished run is stored.
pub async fn header() -> Result<Option<JournalHeader>, RuntimeError> {
    get_json(HEADER).await
}

pub async fn put_header(header: &JournalHeader) -> Result<(), RuntimeError> {
    put_json(HEADER, header).await
}

/// Key of a checkpoint's weights.
pub fn checkpoint_key(epoch: usize) -> String {
    format!("checkpoint:{epoch}")
}

/// Key of a sweep cell's evaluation (`index` in the plan's order).
pub fn cell_key(index: usize) -> String {
    format!("cell:{index}")
}

/// Key of a finished seed's result (`index` in the config's seed order).
pub fn seed_key(index: usize) -> String {
    format!("seed:{index}")
}

/// Forgets the stored run.
pub async fn clear() -> Result<(), RuntimeError> {
    let db = open().await?;
    idb::write(&db, STORE, |store| store.clear()).await.map(|_| ())
}
