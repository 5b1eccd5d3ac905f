//! IndexedDB as promises, for the page (saved runs) and the worker (the run journal) alike: both
//! reach `indexedDB` through the global scope.

use crate::runtime::error::RuntimeError;
use crate::runtime::js;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// Resolves an IDBRequest (or IDBOpenDBRequest) to its result.
pub async fn request(req: &web_sys::IdbRequest) -> Result<JsValue, RuntimeError> {
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
    Ok(wasm_bindgen_futures::JsFuture::from(promise).await?)
}

/// Opens (creating when needed) database `name` with the object stores `stores` (out-of-line
/// keys, or the `id` key path with auto-increment when `auto_id`).
pub async fn open(
    name: &str,
    version: u32,
    stores: &[&str],
    auto_id: bool,
) -> Result<web_sys::IdbDatabase, RuntimeError> {
    let factory: web_sys::IdbFactory = js::get(&js_sys::global(), "indexedDB").dyn_into().map_err(|_| {
        RuntimeError::Unavailable("this browser does not offer IndexedDB (private mode?)".into())
    })?;
    let open = factory.open_with_u32(name, version)?;
    let stores: Vec<String> = stores.iter().map(|s| s.to_string()).collect();
    let upgrade = Closure::once_into_js(move |event: web_sys::Event| {
        let target = event.target().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        if let Ok(db) = js::get(&target, "result").dyn_into::<web_sys::IdbDatabase>() {
            for store in &stores {
                if db.object_store_names().contains(store) {
                    continue;
                }
                let params = web_sys::IdbObjectStoreParameters::new();
                if auto_id {
                    params.set_key_path(&JsValue::from_str("id"));
                    params.set_auto_increment(true);
                }
                let _ = db.create_object_store_with_optional_parameters(store, &params);
            }
        }
    });
    open.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
    let db = request(&open).await?;
    db.dyn_into()
        .map_err(|_| RuntimeError::Unavailable("IndexedDB did not open".into()))
}

/// Resolves when `tx` commits; fails with the reason when it aborts. A full quota shows up only
/// here (the write request itself succeeds, then the transaction aborts), so every write waits
/// for this before it reports success.
fn committed(tx: &web_sys::IdbTransaction) -> wasm_bindgen_futures::JsFuture {
    let tx = tx.clone();
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let done = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let tx_error = tx.clone();
        let failed = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            let reason = tx_error
                .error()
                .map(|e| format!("{}: {}", e.name(), e.message()))
                .unwrap_or_else(|| "the browser aborted the write".into());
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&reason));
        })
        .into_js_value();
        tx.set_oncomplete(Some(done.unchecked_ref()));
        tx.set_onabort(Some(failed.unchecked_ref()));
        tx.set_onerror(Some(failed.unchecked_ref()));
    });
    wasm_bindgen_futures::JsFuture::from(promise)
}

/// A read-only view of `store`.
pub fn reading(db: &web_sys::IdbDatabase, store: &str) -> Result<web_sys::IdbObjectStore, RuntimeError> {
    Ok(db
        .transaction_with_str(store)
        .and_then(|t| t.object_store(store))?)
}

/// A write on `store`: `write` issues the requests; this resolves once they are committed.
pub async fn write(
    db: &web_sys::IdbDatabase,
    store: &str,
    write: impl FnOnce(&web_sys::IdbObjectStore) -> Result<web_sys::IdbRequest, JsValue>,
) -> Result<JsValue, RuntimeError> {
    let storage = |e: JsValue| RuntimeError::Storage(js::describe(&e));
    let tx = db
        .transaction_with_str_and_mode(store, web_sys::IdbTransactionMode::Readwrite)
        .map_err(storage)?;
    let done = committed(&tx);
    let object_store = tx.object_store(store).map_err(storage)?;
    let req = write(&object_store).map_err(storage)?;
    let value = request(&req).await?;
    done.await.map_err(storage)?;
    Ok(value)
}
