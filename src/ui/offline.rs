//! The page's service worker (written per build by layerlab-stage, named in
//! `<meta name="layerlab-sw">`): registered at start, so a second visit works offline; when it
//! reports that a newer build is deployed, the page offers to reload.

use crate::runtime::js;
use crate::ui::dom;
use crate::ui::state::Action;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use yew::Callback;

/// The `<meta>` naming the build's service worker (written by layerlab-stage).
pub const SERVICE_WORKER_META: &str = "layerlab-sw";

/// `navigator.serviceWorker`, where the browser has service workers.
pub fn container() -> Option<JsValue> {
    let container = js::get(&js::get(&js_sys::global(), "navigator"), "serviceWorker");
    (!container.is_undefined() && !container.is_null()).then_some(container)
}

/// How long a first visit waits for the service worker (and the reload that makes the page
/// cross-origin isolated) before the CPU engine starts on one thread.
const ISOLATION_WAIT_MS: i32 = 10_000;

/// Registers the build's service worker and listens to it. A browser without service workers
/// (or a page served without layerlab-stage) simply works online only. Its taking control of
/// the page is reported (`ServiceWorkerInControl`): its headers make the next load cross-origin
/// isolated; if that cannot happen soon, `IsolationSettled`.
pub fn register(dispatch: Callback<Action>) {
    let (Some(url), Some(container)) = (dom::meta(SERVICE_WORKER_META), container()) else {
        dispatch.emit(Action::IsolationSettled);
        return;
    };
    {
        let control = dispatch.clone();
        let on_control = Closure::<dyn FnMut()>::new(move || control.emit(Action::ServiceWorkerInControl));
        if js::call(
            &container,
            "addEventListener",
            &[
                "controllerchange".into(),
                on_control.as_ref().unchecked_ref::<JsValue>().clone(),
            ],
        )
        .is_ok()
        {
            on_control.forget();
        }
        let settle = dispatch.clone();
        let give_up = Closure::once_into_js(move || settle.emit(Action::IsolationSettled));
        let _ = dom::window().set_timeout_with_callback_and_timeout_and_arguments_0(
            give_up.unchecked_ref(),
            ISOLATION_WAIT_MS,
        );
    }
    let settle = dispatch.clone();
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        match js::get_string(&event.data(), "type").as_deref() {
            Some("layerlab-update") => dispatch.emit(Action::UpdateAvailable),
            Some("layerlab-refreshed") => reload(),
            _ => {}
        }
    });
    let listen = js::call(
        &container,
        "addEventListener",
        &[
            "message".into(),
            on_message.as_ref().unchecked_ref::<JsValue>().clone(),
        ],
    );
    if listen.is_ok() {
        on_message.forget();
    }
    spawn_local(async move {
        let Ok(registering) = js::call(&container, "register", &[url.into()]) else {
            settle.emit(Action::IsolationSettled);
            return;
        };
        // A refused registration (private mode, an odd scope) leaves the page online-only.
        if js::await_promise(registering).await.is_err() {
            settle.emit(Action::IsolationSettled);
            return;
        }
        // A page the service worker served: ask it whether a newer build is deployed.
        let controller = js::get(&container, "controller");
        if !controller.is_null() && !controller.is_undefined() {
            post(&controller, "layerlab-check");
        }
    });
}

fn post(worker: &JsValue, kind: &str) {
    let message = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&message, &"type".into(), &kind.into());
    let _ = js::call(worker, "postMessage", &[message.into()]);
}

fn reload() {
    let _ = dom::window().location().reload();
}

/// The "Reload" of the update notice: the service worker forgets its copy of the page (it
/// answers, and the page reloads); without one, or without an answer soon, it reloads anyway.
pub fn apply_update() {
    let controller = container().map(|c| js::get(&c, "controller"));
    match controller.filter(|c| !c.is_null() && !c.is_undefined()) {
        Some(controller) => {
            post(&controller, "layerlab-refresh");
            let fallback = Closure::once_into_js(reload);
            let _ = dom::window()
                .set_timeout_with_callback_and_timeout_and_arguments_0(fallback.unchecked_ref(), 3000);
        }
        None => reload(),
    }
}
