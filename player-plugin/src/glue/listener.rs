//! RAII event listeners: dropping one removes it, so `destroy()` is exact.
//!
//! What gloo-events gave, in a few lines and without its std dependency (the
//! shipped plugin is `no_std`). Every listener shares one closure type
//! (`FnMut(JsValue)`), so wasm-bindgen emits one invoker for all of them.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::EventTarget;

pub struct EventListener {
    target: EventTarget,
    name: &'static str,
    f: Closure<dyn FnMut(JsValue)>,
}

impl EventListener {
    /// Listens for `name` on `target` until dropped.
    pub fn new(target: &EventTarget, name: &'static str, f: impl FnMut(JsValue) + 'static) -> Self {
        let f = Closure::<dyn FnMut(JsValue)>::new(f);
        let _ = target.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
        EventListener {
            target: target.clone(),
            name,
            f,
        }
    }
}

impl Drop for EventListener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.name, self.f.as_ref().unchecked_ref());
    }
}
