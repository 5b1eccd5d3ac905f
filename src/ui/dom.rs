//! Browser helpers for the page: downloads and the address bar.

use crate::engine::result::ResultFile;
use crate::runtime::error::RuntimeError;
use crate::runtime::protocol::EngineKind;
use crate::ui::offline;
use wasm_bindgen::JsCast;

pub fn window() -> web_sys::Window {
    web_sys::window().expect("the page has a window")
}

/// A `blob:` URL holding `content` (revoke it when done).
fn object_url(mime: &str, content: &str) -> Result<String, RuntimeError> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(content));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    Ok(web_sys::Url::create_object_url_with_blob(&blob)?)
}

/// Clicks a download link to `href` named `file_name`.
fn click_download(href: &str, file_name: &str) -> Result<(), RuntimeError> {
    let anchor: web_sys::HtmlAnchorElement = document().create_element("a")?.unchecked_into();
    anchor.set_href(href);
    anchor.set_download(file_name);
    anchor.click();
    Ok(())
}

/// Offers a result as its JSON file, named after its model, data set and seed.
pub fn download_result(result: &ResultFile) -> Result<(), RuntimeError> {
    let name = format!(
        "layerlab-{}-{}-seed{}.json",
        result.config.model.name(),
        result.config.dataset.name(),
        result.config.seed
    );
    download(&name, "application/json", &result.to_json())
}

/// Offers `content` as a file download.
pub fn download(file_name: &str, mime: &str, content: &str) -> Result<(), RuntimeError> {
    let url = object_url(mime, content)?;
    click_download(&url, file_name)?;
    // Revoke later: some browsers read the URL after click() returns.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 30_000);
    Ok(())
}

/// The `content` of `<meta name=NAME>`, if the page has one.
pub fn meta(name: &str) -> Option<String> {
    document()
        .query_selector(&format!("meta[name=\"{name}\"]"))
        .ok()
        .flatten()
        .and_then(|m| m.get_attribute("content"))
        .filter(|c| !c.is_empty())
}

/// The current `location.hash`.
pub fn hash() -> String {
    window().location().hash().unwrap_or_default()
}

/// Replaces the fragment without adding a history entry or reloading.
pub fn replace_hash(fragment: &str) {
    if hash() == fragment {
        return;
    }
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(fragment));
    }
}

/// The absolute URL of `relative`, resolved against the page.
pub fn absolute(relative: &str) -> String {
    let base = window().location().href().unwrap_or_default();
    web_sys::Url::new_with_base(relative, &base)
        .map(|u| u.href())
        .unwrap_or_else(|_| relative.to_string())
}

/// Styles an exported chart needs (the page's stylesheet does not travel with it).
const EXPORT_STYLE: &str = "text { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; font-size: 14px; } \
    .hm-row, .hm-col { font-family: ui-monospace, Menlo, Consolas, monospace; } .axis-label { fill: #5b5b5b; }";

/// The chart `<svg>` inside `[data-testid=<testid>]`, as a standalone SVG document.
pub fn svg_markup(testid: &str) -> Result<(String, f64, f64), RuntimeError> {
    let document = document();
    let svg = document
        .query_selector(&format!("[data-testid=\"{testid}\"] svg"))?
        .ok_or_else(|| RuntimeError::Js("the chart is not on the page".into()))?;
    let copy: web_sys::Element = svg.clone_node_with_deep(true)?.unchecked_into();
    let _ = copy.set_attribute("xmlns", "http://www.w3.org/2000/svg");
    let style = document.create_element_ns(Some("http://www.w3.org/2000/svg"), "style")?;
    style.set_text_content(Some(EXPORT_STYLE));
    let _ = copy.prepend_with_node_1(&style);
    let view_box: Vec<f64> = copy
        .get_attribute("viewBox")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let (w, h) = match view_box.as_slice() {
        [_, _, w, h] => (*w, *h),
        _ => (800.0, 400.0),
    };
    let _ = copy.set_attribute("width", &w.to_string());
    let _ = copy.set_attribute("height", &h.to_string());
    let text = web_sys::XmlSerializer::new().and_then(|s| s.serialize_to_string(&copy))?;
    Ok((
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{text}"),
        w,
        h,
    ))
}

/// Downloads the chart in `[data-testid=<testid>]` as SVG.
pub fn export_svg(testid: &str, file_name: &str) -> Result<(), RuntimeError> {
    let (markup, _, _) = svg_markup(testid)?;
    download(file_name, "image/svg+xml", &markup)
}

/// Downloads the chart in `[data-testid=<testid>]` as a PNG at twice its size (white background).
pub fn export_png(
    testid: &str,
    file_name: &str,
    on_error: impl Fn(String) + 'static,
) -> Result<(), RuntimeError> {
    let (markup, w, h) = svg_markup(testid)?;
    let url = object_url("image/svg+xml", &markup)?;
    let image = web_sys::HtmlImageElement::new()?;
    let name = file_name.to_string();
    let img = image.clone();
    let svg_url = url.clone();
    let onload = wasm_bindgen::closure::Closure::once_into_js(move || {
        let result = (|| -> Result<(), RuntimeError> {
            let canvas: web_sys::HtmlCanvasElement = document().create_element("canvas")?.unchecked_into();
            let scale = 2.0;
            canvas.set_width((w * scale) as u32);
            canvas.set_height((h * scale) as u32);
            let ctx: web_sys::CanvasRenderingContext2d = canvas
                .get_context("2d")?
                .ok_or_else(|| RuntimeError::Unavailable("no 2d canvas".into()))?
                .unchecked_into();
            ctx.set_fill_style_str("#ffffff");
            ctx.fill_rect(0.0, 0.0, w * scale, h * scale);
            ctx.scale(scale, scale)?;
            ctx.draw_image_with_html_image_element(&img, 0.0, 0.0)?;
            click_download(&canvas.to_data_url_with_type("image/png")?, &name)
        })();
        let _ = web_sys::Url::revoke_object_url(&svg_url);
        if let Err(e) = result {
            on_error(format!("The PNG could not be made: {e}"));
        }
    });
    image.set_onload(Some(onload.unchecked_ref()));
    image.set_src(&url);
    Ok(())
}

/// Copies text to the clipboard (best effort: it needs a secure context).
pub fn copy_to_clipboard(text: &str) {
    let clipboard = window().navigator().clipboard();
    let _ = clipboard.write_text(text);
}

/// The page's address without its fragment.
pub fn page_url() -> String {
    let location = window().location();
    format!(
        "{}{}{}",
        location.origin().unwrap_or_default(),
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    )
}

/// Reads a dropped or chosen file.
pub async fn read_bytes(file: &web_sys::File) -> Result<Vec<u8>, RuntimeError> {
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Whether the page is shown inside another page's frame (then a link may not start a run).
pub fn is_framed() -> bool {
    let w = window();
    match w.top() {
        Ok(Some(top)) => wasm_bindgen::JsValue::from(top) != wasm_bindgen::JsValue::from(w),
        // A cross-origin parent may refuse the question: that is a frame too.
        _ => true,
    }
}

pub fn document() -> web_sys::Document {
    window().document().expect("the page has a document")
}

const VISITED: &str = "layerlab-visited";

/// Whether this browser has not dismissed the first-visit guide yet.
pub fn first_visit() -> bool {
    let storage = window().local_storage().ok().flatten();
    storage.is_some_and(|s| s.get_item(VISITED).ok().flatten().is_none())
}

/// Remembers that the guide was read.
pub fn remember_visit() {
    if let Some(storage) = window().local_storage().ok().flatten() {
        let _ = storage.set_item(VISITED, "1");
    }
}

/// Whether the page may share memory between threads (`crossOriginIsolated`): the headers the
/// service worker adds make it so from the visit after the first.
pub fn cross_origin_isolated() -> bool {
    crate::runtime::js::get(&window().into(), "crossOriginIsolated").is_truthy()
}

/// A module of one function using relaxed SIMD's `f32x4.relaxed_madd` (three `f32x4.splat`s of
/// 1.0, then the `madd`).
const RELAXED_SIMD_PROBE: [u8; 49] = [
    0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 28, 1, 26, 0, 67, 0, 0, 128, 63,
    253, 19, 67, 0, 0, 128, 63, 253, 19, 67, 0, 0, 128, 63, 253, 19, 253, 133, 2, 11,
];

/// Whether the browser runs WebAssembly relaxed SIMD, which the CPU engine's products need to
/// equal the CLI's (crates/gemm); without it the page loads the compat engine. Probed once: the
/// answer cannot change, and the status banner asks on every render.
pub fn relaxed_simd() -> bool {
    static RELAXED_SIMD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *RELAXED_SIMD.get_or_init(|| {
        js_sys::WebAssembly::validate(&js_sys::Uint8Array::from(&RELAXED_SIMD_PROBE[..]).into())
            .unwrap_or(false)
    })
}

/// Marks (for this tab's session) that the page reloaded once to become cross-origin isolated,
/// so a browser that ignores the headers is not reloaded again and again.
const ISOLATION_RELOADED: &str = "layerlab-isolation-reload";

/// Whether the build has a service worker and the browser can run it.
fn has_service_worker() -> bool {
    meta(offline::SERVICE_WORKER_META).is_some() && offline::container().is_some()
}

/// Whether this visit should wait for the service worker and reload to become cross-origin
/// isolated: not isolated yet, the build has the threaded engine and a service worker, the
/// browser has service workers, the page is not framed (isolation needs the top-level page), and
/// it has not reloaded for this already.
pub fn isolation_expected() -> bool {
    let session = window().session_storage().ok().flatten();
    !cross_origin_isolated()
        && relaxed_simd()
        && meta(EngineKind::THREADED_CPU_WORKER).is_some()
        && has_service_worker()
        && !is_framed()
        && session.is_some_and(|s| s.get_item(ISOLATION_RELOADED).ok().flatten().is_none())
}

/// Reloads the page to become cross-origin isolated (once per session). `run` keeps a linked
/// run's `run=1` in the address (the page drops it once read), so the run starts after the
/// reload as it would have before.
pub fn reload_for_isolation(run: bool) {
    if let Some(session) = window().session_storage().ok().flatten() {
        let _ = session.set_item(ISOLATION_RELOADED, "1");
    }
    if run {
        let fragment = hash();
        let separator = if fragment.len() > 1 { "&" } else { "#" };
        replace_hash(&format!("{}{separator}run=1", fragment.trim_end_matches('#')));
    }
    let _ = window().location().reload();
}

/// Why the CPU engine has one thread on this page, when it has one: in words for the page.
pub fn single_thread_reason() -> Option<String> {
    if !relaxed_simd() {
        return Some(
            "One CPU thread, and slower products: this browser lacks WebAssembly relaxed SIMD, \
             so the CPU engine multiplies and adds separately (its numbers can differ from the \
             command line's in the last digits). Chrome and Edge have it."
                .into(),
        );
    }
    if cross_origin_isolated() {
        return None;
    }
    meta(EngineKind::THREADED_CPU_WORKER)?;
    Some(if has_service_worker() {
        "One CPU thread on this visit: WebAssembly threads need this page's service worker, which \
         is in place from the next visit. Reload the page to train on every core."
            .into()
    } else {
        "One CPU thread: this browser does not offer WebAssembly threads to this page.".into()
    })
}
