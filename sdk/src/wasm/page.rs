//! The page's lifecycle: when it is hidden (`visibilitychange`) or unloaded
//! (`pagehide`), what is queued goes out at once, as `keepalive` requests
//! that outlive the page. Also where the `storage` listener of `tabs.rs`
//! is registered.
//!
//! The listeners live in a per-thread table, not in the tracker, so the
//! tracker stays `Send + Sync` like the native one; dropping the tracker
//! removes them.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc::WeakUnboundedSender;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, EventTarget, VisibilityState, Window};

use crate::driver::Task;
use crate::platform::Clock;

thread_local! {
    // A list, not a map: a page has a tracker or two, and a map's code
    // weighs more in the package than the search.
    static LISTENERS: RefCell<Vec<(u64, Listeners)>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// The tracker's hold on its page listeners: dropping it removes them.
#[derive(Debug)]
pub(crate) struct PageHooks {
    id: u64,
}

impl Drop for PageHooks {
    fn drop(&mut self) {
        // The table is gone only while the thread ends; nothing is left to remove then.
        // Taken out of the table before they drop, so removing the browser's
        // listeners never runs while the table is borrowed.
        let removed = LISTENERS
            .try_with(|table| {
                let mut table = table.borrow_mut();
                let at = table.iter().position(|(id, _)| *id == self.id)?;
                Some(table.swap_remove(at))
            })
            .ok()
            .flatten();
        drop(removed);
    }
}

struct Listeners {
    window: Window,
    document: Document,
    on_visibility: Closure<dyn FnMut()>,
    on_pagehide: Closure<dyn FnMut()>,
    on_storage: Closure<dyn FnMut(JsValue)>,
}

impl Drop for Listeners {
    fn drop(&mut self) {
        let document: &EventTarget = &self.document;
        let window: &EventTarget = &self.window;
        // Removing a listener that is not there is not an error in the DOM.
        let _ = document.remove_event_listener_with_callback(
            "visibilitychange",
            self.on_visibility.as_ref().unchecked_ref(),
        );
        let _ = window.remove_event_listener_with_callback(
            "pagehide",
            self.on_pagehide.as_ref().unchecked_ref(),
        );
        let _ = window.remove_event_listener_with_callback(
            "storage",
            self.on_storage.as_ref().unchecked_ref(),
        );
    }
}

/// Asks the delivery loop to send what is queued now, as requests that outlive the page.
fn send_now(tasks: &WeakUnboundedSender<Task>, clock: &dyn Clock, leaving: &AtomicBool) {
    let Some(tasks) = tasks.upgrade() else {
        return;
    };
    leaving.store(true, Ordering::Release);
    // A flush that waits for nothing: it only makes the loop send without
    // waiting for the batch interval.
    let task = Task::Flush {
        deadline_ms: clock.mono_ms(),
        reply: Box::new(|_| {}),
    };
    if tasks.send(task).is_err() {
        tracing::debug!("the page was hidden after the tracker stopped");
    }
}

/// Listens for the page being hidden or unloaded, and for other tabs'
/// changes to `localStorage` (`on_storage`); `None` outside a window (in a
/// worker), where there is no page to leave and no other tab.
pub(crate) fn install(
    tasks: WeakUnboundedSender<Task>,
    clock: Arc<dyn Clock>,
    leaving: Arc<AtomicBool>,
    on_storage: Closure<dyn FnMut(JsValue)>,
) -> Option<PageHooks> {
    let window = web_sys::window()?;
    let document = window.document()?;
    let on_visibility = {
        let (tasks, clock, leaving, document) = (
            tasks.clone(),
            clock.clone(),
            leaving.clone(),
            document.clone(),
        );
        Closure::<dyn FnMut()>::new(move || {
            if document.visibility_state() == VisibilityState::Hidden {
                send_now(&tasks, clock.as_ref(), &leaving);
            } else {
                leaving.store(false, Ordering::Release);
            }
        })
    };
    let on_pagehide =
        Closure::<dyn FnMut()>::new(move || send_now(&tasks, clock.as_ref(), &leaving));
    let listeners = Listeners {
        window,
        document,
        on_visibility,
        on_pagehide,
        on_storage,
    };
    // On failure `listeners` is dropped, which removes whatever was added.
    listeners
        .document
        .add_event_listener_with_callback(
            "visibilitychange",
            listeners.on_visibility.as_ref().unchecked_ref(),
        )
        .ok()?;
    listeners
        .window
        .add_event_listener_with_callback(
            "pagehide",
            listeners.on_pagehide.as_ref().unchecked_ref(),
        )
        .ok()?;
    listeners
        .window
        .add_event_listener_with_callback("storage", listeners.on_storage.as_ref().unchecked_ref())
        .ok()?;
    let id = NEXT_ID.with(|next| {
        let id = next.get();
        next.set(id + 1);
        id
    });
    LISTENERS.with(|table| table.borrow_mut().push((id, listeners)));
    Some(PageHooks { id })
}
