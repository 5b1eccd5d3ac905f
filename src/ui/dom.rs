//! Browser helpers for the page: downloads and the address bar.

use wasm_bindgen::JsCast;

pub fn window() -> web_sys::Window {
    web_sys::window().expect("the page has a window")
}

/// Offers `content` as a file download.
pub fn download(file_name: &str, mime: &str, content: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(content));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob =
        web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let document = window().document().ok_or("no document")?;
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(file_name);
    anchor.click();
    // Revoke later: some browsers read the URL after click() returns.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 30_000);
    Ok(())
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
pub fn svg_markup(testid: &str) -> Result<(String, f64, f64), String> {
    let document = window().document().ok_or("no document")?;
    let svg = document
        .query_selector(&format!("[data-testid=\"{testid}\"] svg"))
        .map_err(|e| format!("{e:?}"))?
        .ok_or("the chart is not on the page")?;
    let copy: web_sys::Element = svg
        .clone_node_with_deep(true)
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    let _ = copy.set_attribute("xmlns", "http://www.w3.org/2000/svg");
    let style = document
        .create_element_ns(Some("http://www.w3.org/2000/svg"), "style")
        .map_err(|e| format!("{e:?}"))?;
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
    let text = web_sys::XmlSerializer::new()
        .and_then(|s| s.serialize_to_string(&copy))
        .map_err(|e| format!("{e:?}"))?;
    Ok((
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{text}"),
        w,
        h,
    ))
}

/// Downloads the chart in `[data-testid=<testid>]` as SVG.
pub fn export_svg(testid: &str, file_name: &str) -> Result<(), String> {
    let (markup, _, _) = svg_markup(testid)?;
    download(file_name, "image/svg+xml", &markup)
}

/// Downloads the chart in `[data-testid=<testid>]` as a PNG at twice its size (white background).
pub fn export_png(testid: &str, file_name: &str, on_error: impl Fn(String) + 'static) -> Result<(), String> {
    let (markup, w, h) = svg_markup(testid)?;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&markup));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/svg+xml");
    let blob =
        web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let image = web_sys::HtmlImageElement::new().map_err(|e| format!("{e:?}"))?;
    let name = file_name.to_string();
    let img = image.clone();
    let svg_url = url.clone();
    let onload = wasm_bindgen::closure::Closure::once_into_js(move || {
        let result = (|| -> Result<(), String> {
            let document = window().document().ok_or("no document")?;
            let canvas: web_sys::HtmlCanvasElement = document
                .create_element("canvas")
                .map_err(|e| format!("{e:?}"))?
                .unchecked_into();
            let scale = 2.0;
            canvas.set_width((w * scale) as u32);
            canvas.set_height((h * scale) as u32);
            let ctx: web_sys::CanvasRenderingContext2d = canvas
                .get_context("2d")
                .map_err(|e| format!("{e:?}"))?
                .ok_or("no 2d canvas")?
                .unchecked_into();
            ctx.set_fill_style_str("#ffffff");
            ctx.fill_rect(0.0, 0.0, w * scale, h * scale);
            ctx.scale(scale, scale).map_err(|e| format!("{e:?}"))?;
            ctx.draw_image_with_html_image_element(&img, 0.0, 0.0)
                .map_err(|e| format!("{e:?}"))?;
            let data_url = canvas
                .to_data_url_with_type("image/png")
                .map_err(|e| format!("{e:?}"))?;
            let anchor: web_sys::HtmlAnchorElement = document
                .create_element("a")
                .map_err(|e| format!("{e:?}"))?
                .unchecked_into();
            anchor.set_href(&data_url);
            anchor.set_download(&name);
            anchor.click();
            Ok(())
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
pub async fn read_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| crate::runtime::js::describe(&e))?;
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
