//! The page's window-wide listeners as hooks: the address, dropped files, leaving mid-run, and
//! the presentation keys. Each lives as long as the component that uses it.

use crate::ui::dom;
use crate::ui::effects;
use crate::ui::engine::EngineSlot;
use crate::ui::state::{Action, PresentKey};
use crate::ui::url;
use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::{JsCast, JsValue};
use yew::prelude::*;

/// The address changed by hand (or a link was pasted): load it.
#[hook]
pub fn use_hash_changes(dispatch: Callback<Action>) {
    use_effect_with((), move |_| {
        let listener = EventListener::new(&dom::window(), "hashchange", move |_| {
            dispatch.emit(Action::LoadFragment(url::parse(&dom::hash())));
        });
        move || drop(listener)
    });
}

/// Files dropped anywhere on the page are opened.
#[hook]
pub fn use_file_drop(dispatch: Callback<Action>, engine: EngineSlot) {
    use_effect_with((), move |_| {
        let window = dom::window();
        let over = EventListener::new_with_options(
            &window,
            "dragover",
            EventListenerOptions::enable_prevent_default(),
            |e| e.prevent_default(),
        );
        let dropped = EventListener::new_with_options(
            &window,
            "drop",
            EventListenerOptions::enable_prevent_default(),
            move |e| {
                e.prevent_default();
                let file = e
                    .dyn_ref::<web_sys::DragEvent>()
                    .and_then(|d| d.data_transfer())
                    .and_then(|t| t.files())
                    .and_then(|f| f.get(0));
                if let Some(file) = file {
                    effects::import_file(file, dispatch.clone(), engine.clone());
                }
            },
        );
        move || {
            drop(over);
            drop(dropped);
        }
    });
}

/// While `guard` holds (a run under way, a result not yet saved), leaving asks first.
#[hook]
pub fn use_leave_guard(guard: bool) {
    use_effect_with(guard, move |&guard| {
        let listener = guard.then(|| {
            EventListener::new_with_options(
                &dom::window(),
                "beforeunload",
                EventListenerOptions::enable_prevent_default(),
                |e| {
                    e.prevent_default();
                    let _ = js_sys::Reflect::set(e, &"returnValue".into(), &JsValue::from_str(""));
                },
            )
        });
        move || drop(listener)
    });
}

/// P opens the presentation view (outside form fields); in it, arrows and Esc.
#[hook]
pub fn use_present_keys(dispatch: Callback<Action>) {
    use_effect_with((), move |_| {
        let listener = EventListener::new(&dom::document(), "keydown", move |e| {
            let Some(key) = e.dyn_ref::<web_sys::KeyboardEvent>() else {
                return;
            };
            let typing = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
            let action = match key.key().as_str() {
                "p" | "P" if !typing && !key.ctrl_key() && !key.meta_key() => Some(Action::Present(true)),
                "Escape" => Some(Action::Present(false)),
                "ArrowLeft" => Some(Action::PresentKey(PresentKey::Left)),
                "ArrowRight" => Some(Action::PresentKey(PresentKey::Right)),
                "ArrowUp" => Some(Action::PresentKey(PresentKey::Up)),
                "ArrowDown" => Some(Action::PresentKey(PresentKey::Down)),
                _ => None,
            };
            if let Some(action) = action {
                dispatch.emit(action);
            }
        });
        move || drop(listener)
    });
}
