//! The page ⇄ worker channel, both ends in one place: the page's [`EngineWorker`] posts
//! [`ToWorker`] messages (with a file beside one when it carries bulk bytes) and hands each
//! [`FromWorker`] to a callback; the worker's [`post`] and [`receive`] are the other end.

use crate::runtime::error::RuntimeError;
use crate::runtime::js;
use crate::runtime::protocol::{FromWorker, ToWorker, envelope};
use wasm_bindgen::prelude::*;

/// The page's handle on the engine's worker (dropping it terminates the worker).
pub struct EngineWorker {
    worker: web_sys::Worker,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl Drop for EngineWorker {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

impl EngineWorker {
    /// Starts the worker at `url`. `on_message` gets every message (or why one could not be
    /// read); `on_lost` is called when the worker fails to load or dies.
    pub fn spawn(
        url: &str,
        on_message: impl Fn(Result<FromWorker, RuntimeError>) + 'static,
        on_lost: impl Fn(String) + 'static,
    ) -> Result<Self, RuntimeError> {
        let worker = web_sys::Worker::new(url)?;
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                on_message(
                    serde_json::from_str::<FromWorker>(&text).map_err(|e| {
                        RuntimeError::Engine(format!("unreadable message from the engine: {e}"))
                    }),
                );
            });
        let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |event: web_sys::ErrorEvent| {
            event.prevent_default();
            let message = event.message();
            on_lost(if message.is_empty() {
                "the engine's worker failed to load".into()
            } else {
                message
            });
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self {
            worker,
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    pub fn post(&self, message: &ToWorker) {
        let _ = self.worker.post_message(&JsValue::from_str(&message.to_json()));
    }

    /// Sends a message with a file alongside it: the worker reads the file itself, so its bytes
    /// are copied once, into the engine, and never into the page's memory.
    pub fn post_with_file(&self, message: &ToWorker, file: &web_sys::File) {
        let object = js_sys::Object::new();
        let _ = js_sys::Reflect::set(
            &object,
            &envelope::JSON.into(),
            &JsValue::from_str(&message.to_json()),
        );
        let _ = js_sys::Reflect::set(&object, &envelope::FILE.into(), file);
        let _ = self.worker.post_message(&object);
    }
}

/// Worker side: sends a message to the page.
pub fn post(message: &FromWorker) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let _ = scope.post_message(&JsValue::from_str(&message.to_json()));
}

/// Worker side: the message in `event`, and the file beside it if one came.
pub fn receive(event: &web_sys::MessageEvent) -> Result<(ToWorker, Option<web_sys::Blob>), RuntimeError> {
    let data = event.data();
    let (text, file) = match data.as_string() {
        Some(text) => (text, None),
        None => (
            js::get_string(&data, envelope::JSON).unwrap_or_default(),
            js::get(&data, envelope::FILE).dyn_into::<web_sys::Blob>().ok(),
        ),
    };
    let message = serde_json::from_str(&text)
        .map_err(|e| RuntimeError::Engine(format!("the worker got a malformed message: {e}")))?;
    Ok((message, file))
}
