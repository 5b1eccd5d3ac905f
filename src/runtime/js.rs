//! Small JavaScript helpers shared by the worker and the page.

use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// `object[key]`, or `undefined`.
pub fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[key]` as a string, if it is one and not empty.
pub fn get_string(object: &JsValue, key: &str) -> Option<String> {
    get(object, key).as_string().filter(|s| !s.is_empty())
}

/// Calls `object[method](args…)`.
pub fn call(object: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function: js_sys::Function = get(object, method).dyn_into()?;
    let array: js_sys::Array = args.iter().collect();
    function.apply(object, &array)
}

/// Awaits a JS promise.
pub async fn await_promise(value: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::from(value)).await
}

/// A readable message from a thrown JS value.
pub fn describe(error: &JsValue) -> String {
    if let Some(s) = error.as_string() {
        return s;
    }
    if let Some(message) = get_string(error, "message") {
        return match get_string(error, "name") {
            Some(name) if name != "Error" => format!("{name}: {message}"),
            _ => message,
        };
    }
    format!("{error:?}")
}

/// Yields to the event loop without timer clamping (a message to ourselves through a
/// `MessageChannel`), so pending messages (a Stop click) are handled between steps.
pub async fn yield_now() {
    let promise = Promise::new(&mut |resolve, _reject| {
        if let Ok(channel) = web_sys::MessageChannel::new() {
            channel.port1().set_onmessage(Some(&resolve));
            let _ = channel.port2().post_message(&JsValue::NULL);
        } else {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Milliseconds since the time origin.
pub fn now_ms() -> f64 {
    let performance = get(&js_sys::global(), "performance");
    call(&performance, "now", &[])
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}
