//! Fetching data files with progress, through the Cache API so that a reload does not download
//! them again. Works in a worker and on the page.

use crate::runtime::error::RuntimeError;
use crate::runtime::js::{self, await_promise, get};
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
) -> Result<Vec<u8>, RuntimeError> {
    let Some(body) = response.body() else {
        return Ok(Vec::new());
    };
    let reader: web_sys::ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|_| RuntimeError::Js("the response body cannot be read".into()))?;
    let mut bytes = Vec::with_capacity(total as usize);
    loop {
        let chunk = await_promise(reader.read().into()).await?;
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
) -> Result<Vec<u8>, RuntimeError> {
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
        return Err(RuntimeError::Fetch {
            url: url.into(),
            reason: format!("download incomplete ({} of {expected} bytes)", bytes.len()),
        });
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

/// A GET of `url` that succeeded (2xx), or an error naming the URL and what went wrong.
async fn fetch_ok(url: &str) -> Result<web_sys::Response, RuntimeError> {
    let failed = |reason: String| RuntimeError::Fetch {
        url: url.into(),
        reason,
    };
    let request = js::call(&global(), "fetch", &[JsValue::from_str(url)])?;
    let response = await_promise(request)
        .await
        .map_err(|e| failed(format!("download failed: {}", js::describe(&e))))?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| failed("not a response".into()))?;
    if !response.ok() {
        return Err(failed(format!(
            "the server answered {} {}",
            response.status(),
            response.status_text()
        )));
    }
    Ok(response)
}

async fn response_text(url: &str, response: &web_sys::Response) -> Result<String, RuntimeError> {
    let text = await_promise(response.text()?.into()).await?;
    text.as_string().ok_or_else(|| RuntimeError::Fetch {
        url: url.into(),
        reason: "not text".into(),
    })
}

/// A small text document (the data manifest): from the network when it answers, kept in the
/// data cache; the kept copy when it does not (offline after a visit).
pub async fn fresh_text(url: &str) -> Result<String, RuntimeError> {
    let cache = open_cache().await;
    match fetch_ok(url).await {
        Ok(response) => {
            let text = response_text(url, &response).await?;
            if let Some(cache) = &cache
                && let Ok(copy) = web_sys::Response::new_with_opt_str(Some(&text))
            {
                let _ = await_promise(cache.put_with_str(url, &copy).into()).await;
            }
            Ok(text)
        }
        Err(offline) => {
            if let Some(cache) = &cache
                && let Ok(hit) = await_promise(cache.match_with_str(url).into()).await
                && let Ok(kept) = hit.dyn_into::<web_sys::Response>()
            {
                return response_text(url, &kept).await;
            }
            Err(offline)
        }
    }
}

/// Stores bytes in the data cache under `url` (a dropped archive, so a reload finds it).
pub async fn store(url: &str, bytes: &[u8]) -> Result<(), RuntimeError> {
    let cache = open_cache()
        .await
        .ok_or_else(|| RuntimeError::Unavailable("this browser has no Cache API".into()))?;
    let body = js_sys::Uint8Array::from(bytes);
    let stored = web_sys::Response::new_with_opt_buffer_source(Some(&body))?;
    await_promise(cache.put_with_str(url, &stored).into())
        .await
        .map(|_| ())
        .map_err(|e| RuntimeError::Storage(format!("the data could not be cached: {}", js::describe(&e))))
}

/// The cached bytes under `url`, if any.
pub async fn cached_only(url: &str) -> Option<Vec<u8>> {
    let cache = open_cache().await?;
    let hit = await_promise(cache.match_with_str(url).into()).await.ok()?;
    let response = hit.dyn_into::<web_sys::Response>().ok()?;
    read_body(&response, 0, &mut |_, _| {}).await.ok()
}
