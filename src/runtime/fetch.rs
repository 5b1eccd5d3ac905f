//! Fetching data files with progress, through the Cache API so that a reload does not download
//! them again. Works in a worker and on the page.

use crate::runtime::js::{self, await_promise, describe, get};
use wasm_bindgen::{JsCast, JsValue};

/// Name of the Cache API store holding data files (bump to invalidate).
pub const DATA_CACHE: &str = "layerlab-data-v1";

fn global() -> JsValue {
    js_sys::global().into()
}

async fn open_cache() -> Option<web_sys::Cache> {
    let caches = get(&global(), "caches");
    if caches.is_undefined() {
        return None;
    }
    let cache = await_promise(js::call(&caches, "open", &[JsValue::from_str(DATA_CACHE)]).ok()?)
        .await
        .ok()?;
    cache.dyn_into().ok()
}

/// Reads a whole response body, reporting `(loaded, total)` as chunks arrive.
async fn read_body(
    response: &web_sys::Response,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<u8>, String> {
    let Some(body) = response.body() else {
        return Ok(Vec::new());
    };
    let reader: web_sys::ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|_| "the response body cannot be read".to_string())?;
    let mut bytes = Vec::with_capacity(total as usize);
    loop {
        let chunk = await_promise(reader.read().into())
            .await
            .map_err(|e| describe(&e))?;
        if get(&chunk, "done").as_bool().unwrap_or(true) {
            break;
        }
        let array = js_sys::Uint8Array::new(&get(&chunk, "value"));
        let start = bytes.len();
        bytes.resize(start + array.length() as usize, 0);
        array.copy_to(&mut bytes[start..]);
        progress(bytes.len() as u64, total.max(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The bytes at `url`: from the data cache when present (reported as `from_cache`), else
/// downloaded with progress and stored in the cache. `expected` is the size the manifest gives,
/// used for progress and to reject a truncated download.
pub async fn cached_bytes(
    url: &str,
    expected: u64,
    progress: &mut dyn FnMut(u64, u64, bool),
) -> Result<Vec<u8>, String> {
    let cache = open_cache().await;
    if let Some(cache) = &cache
        && let Ok(hit) = await_promise(cache.match_with_str(url).into()).await
        && let Ok(response) = hit.dyn_into::<web_sys::Response>()
    {
        let bytes = read_body(&response, expected, &mut |l, t| progress(l, t, true)).await?;
        if expected == 0 || bytes.len() as u64 == expected {
            return Ok(bytes);
        }
        // A stale or damaged entry: fetch again below.
        let _ = cache.delete_with_str(url);
    }
    let response = fetch_ok(url).await?;
    let bytes = read_body(&response, expected, &mut |l, t| progress(l, t, false)).await?;
    if expected != 0 && bytes.len() as u64 != expected {
        return Err(format!(
            "{url}: download incomplete ({} of {expected} bytes)",
            bytes.len()
        ));
    }
    if let Some(cache) = &cache {
        let body = js_sys::Uint8Array::from(bytes.as_slice());
        if let Ok(stored) = web_sys::Response::new_with_opt_buffer_source(Some(&body)) {
            // Caching is best effort (a full quota must not fail the run).
            let _ = await_promise(cache.put_with_str(url, &stored).into()).await;
        }
    }
    Ok(bytes)
}

/// A GET of `url` that succeeded (2xx), or a message naming the URL and what went wrong.
async fn fetch_ok(url: &str) -> Result<web_sys::Response, String> {
    let response =
        await_promise(js::call(&global(), "fetch", &[JsValue::from_str(url)]).map_err(|e| describe(&e))?)
            .await
            .map_err(|e| format!("{url}: download failed: {}", describe(&e)))?;
    let response: web_sys::Response = response
        .dyn_into()
        .map_err(|_| format!("{url}: not a response"))?;
    if !response.ok() {
        return Err(format!(
            "{url}: the server answered {} {}",
            response.status(),
            response.status_text()
        ));
    }
    Ok(response)
}

/// Fetches a small text document (the data manifest), bypassing nothing.
pub async fn text(url: &str) -> Result<String, String> {
    let response = fetch_ok(url).await?;
    let text = await_promise(response.text().map_err(|e| describe(&e))?.into())
        .await
        .map_err(|e| describe(&e))?;
    text.as_string().ok_or_else(|| format!("{url}: not text"))
}

/// Stores bytes in the data cache under `url` (a dropped archive, so a reload finds it).
pub async fn store(url: &str, bytes: &[u8]) -> Result<(), String> {
    let cache = open_cache().await.ok_or("this browser has no Cache API")?;
    let body = js_sys::Uint8Array::from(bytes);
    let stored = web_sys::Response::new_with_opt_buffer_source(Some(&body)).map_err(|e| describe(&e))?;
    await_promise(cache.put_with_str(url, &stored).into())
        .await
        .map(|_| ())
        .map_err(|e| format!("the data could not be cached: {}", describe(&e)))
}

/// The cached bytes under `url`, if any.
pub async fn cached_only(url: &str) -> Option<Vec<u8>> {
    let cache = open_cache().await?;
    let hit = await_promise(cache.match_with_str(url).into()).await.ok()?;
    let response = hit.dyn_into::<web_sys::Response>().ok()?;
    read_body(&response, 0, &mut |_, _| {}).await.ok()
}
