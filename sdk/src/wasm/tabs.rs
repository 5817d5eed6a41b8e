//! Several tabs of one app on one origin share `localStorage`: the cached
//! login, and the journals of unsent events. How they stay correct together:
//!
//! * Each tab writes only its own journal, `usage-sdk/<app>/journal/<tab>`,
//!   and holds the Web Lock `<journal key>#lock` while its delivery loop
//!   runs. No two tabs write one key, so no write undoes another's.
//! * A journal whose lock is free belongs to no running tab (it was closed,
//!   reloaded or crashed). Every tab asks for the lock of every other journal
//!   it knows of (those there at its start, and new ones as `storage` events
//!   show them); the browser grants it once the owner is gone, to one tab at
//!   a time. That tab takes the events into its own queue and journal, and
//!   deletes the old journal before it lets go of the lock; the next tab
//!   granted the lock finds nothing left. So a closed tab's events are sent by
//!   a tab still open, or by the next one to open.
//! * Delivery is at least once (a tab closed between sending a batch and
//!   hearing the answer leaves those events in its journal), and events keep
//!   the id made at `track()`, so the collector stores each event once.
//! * The cached login is one key. A login, a logout and the collector's
//!   opted-out hint in one tab change it, and the `storage` event carries the
//!   change to every other tab at once, which follows it.
//!
//! Without Web Locks (pages not served over HTTPS or from localhost), tabs
//! share the one journal key `usage-sdk/<app>/journal`, as before there was
//! any coordination: the login still follows across tabs.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Weak;

use futures_channel::oneshot;
use js_sys::{Function, Promise, Reflect};
use tokio::sync::mpsc::WeakUnboundedSender;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::driver::Task;
use crate::tracker::{CurrentLogin, Inner, Tracker};

#[wasm_bindgen]
extern "C" {
    /// The page's `navigator.locks` (Web Locks API).
    #[derive(Clone)]
    pub(crate) type LockManager;
    #[wasm_bindgen(method)]
    fn request(this: &LockManager, name: &str, callback: &Function) -> Promise;
}

/// `navigator.locks`, where the browser has it.
pub(crate) fn lock_manager() -> Option<LockManager> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    locks.is_object().then(|| locks.unchecked_into())
}

/// The key of the app's journal shared by all tabs (no Web Locks), and the
/// start of every tab's own journal key.
pub(crate) fn shared_journal_key(app: &str) -> String {
    format!("usage-sdk/{app}/journal")
}

/// The journal key of the tab named `tab`.
pub(crate) fn tab_journal_key(app: &str, tab: u64) -> String {
    format!("{}/{tab:016x}", shared_journal_key(app))
}

/// The Web Lock held by whoever owns the journal under `key`.
fn lock_name(key: &str) -> String {
    format!("{key}#lock")
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Holds the lock of this tab's journal `key` until `released` settles
/// (when the delivery loop ends, or the page goes).
pub(crate) fn hold(locks: &LockManager, key: &str, released: Promise) {
    let callback = Closure::once_into_js(move |_lock: JsValue| released);
    // The request's own promise settles when the lock is let go; nothing waits for it.
    let _ = locks.request(&lock_name(key), callback.unchecked_ref());
}

/// A promise and the function that resolves it.
pub(crate) fn promise_with_resolve() -> (Promise, Function) {
    let mut resolve = None;
    let promise = Promise::new(&mut |res, _reject| resolve = Some(res));
    let resolve = resolve.expect("a promise's executor runs before its constructor returns");
    (promise, resolve)
}

/// Takes over the journals of tabs that are gone.
#[derive(Clone)]
pub(crate) struct Adopter {
    locks: LockManager,
    /// This tab's journal key, never adopted by itself.
    own: Rc<str>,
    /// `usage-sdk/<app>/journal`: the shared key, and the start of every tab's key.
    shared: Rc<str>,
    tasks: WeakUnboundedSender<Task>,
    /// Journals this tab waits for, so each is asked for once at a time.
    watched: Rc<RefCell<Vec<String>>>,
}

impl Adopter {
    pub(crate) fn new(
        locks: LockManager,
        app: &str,
        own: &str,
        tasks: WeakUnboundedSender<Task>,
    ) -> Self {
        Self {
            locks,
            own: own.into(),
            shared: shared_journal_key(app).into(),
            tasks,
            watched: Rc::default(),
        }
    }

    /// Watches every journal of the app in `localStorage` now.
    pub(crate) fn watch_existing(&self) {
        let Some(storage) = local_storage() else {
            return;
        };
        let count = storage.length().unwrap_or(0);
        let keys: Vec<String> = (0..count)
            .filter_map(|i| storage.key(i).ok().flatten())
            .collect();
        for key in keys {
            self.watch(key);
        }
    }

    fn is_other_journal(&self, key: &str) -> bool {
        let of_app = key == &*self.shared
            || key
                .strip_prefix(&*self.shared)
                .is_some_and(|tab| tab.starts_with('/'));
        of_app && key != &*self.own
    }

    /// Asks for the lock of the journal under `key`, if it is another tab's;
    /// once granted (its tab is gone), adopts it.
    pub(crate) fn watch(&self, key: String) {
        if !self.is_other_journal(&key) || self.watched.borrow().contains(&key) {
            return;
        }
        self.watched.borrow_mut().push(key.clone());
        let name = lock_name(&key);
        let this = self.clone();
        let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
            wasm_bindgen_futures::future_to_promise(async move {
                this.adopt(&key).await;
                this.watched.borrow_mut().retain(|watched| *watched != key);
                Ok(JsValue::UNDEFINED)
            })
        });
        let _ = self.locks.request(&name, callback.unchecked_ref());
    }

    /// Hands the journal under `key` to this tab's delivery loop and deletes
    /// it once this tab's own journal holds its events. Runs under its lock.
    async fn adopt(&self, key: &str) {
        let Some(storage) = local_storage() else {
            return;
        };
        let text = storage.get_item(key).ok().flatten().unwrap_or_default();
        if !text.is_empty() {
            let answered = {
                // Not held across the wait: a strong sender would keep the
                // delivery loop alive after its tracker is gone.
                let Some(tasks) = self.tasks.upgrade() else {
                    return;
                };
                let (answer, answered) = oneshot::channel();
                let reply = Box::new(move |adopted: bool| {
                    // Nobody listens once the page is going; then the journal stays.
                    let _ = answer.send(adopted);
                });
                let task = Task::Adopt {
                    journal: text.into_bytes(),
                    reply,
                };
                if tasks.send(task).is_err() {
                    return;
                }
                answered
            };
            if answered.await != Ok(true) {
                return;
            }
        }
        // Failing to delete leaves events that are sent again and stored once.
        let _ = storage.remove_item(key);
    }
}

/// The `storage` listener of a tracker: follows the login other tabs change,
/// and watches the journals of tabs that appear.
pub(crate) fn listener(
    app: &str,
    inner: Weak<Inner>,
    adopter: Option<Adopter>,
) -> Closure<dyn FnMut(JsValue)> {
    let session_key = format!("usage-sdk/{app}/session");
    Closure::new(move |event: JsValue| {
        let read = |name: &str| Reflect::get(&event, &name.into()).ok();
        let key = read("key").and_then(|key| key.as_string());
        let value = read("newValue").and_then(|value| value.as_string());
        match key {
            // `localStorage.clear()` in another tab: the login is gone.
            None => {
                if let Some(inner) = inner.upgrade() {
                    Tracker { inner }.follow_session(None);
                }
            }
            Some(key) if key == session_key => {
                if let Some(inner) = inner.upgrade() {
                    Tracker { inner }.follow_session(value.as_deref());
                }
            }
            Some(key) => {
                if let (Some(adopter), Some(_)) = (&adopter, &value) {
                    adopter.watch(key);
                }
            }
        }
    })
}

impl Tracker {
    /// Takes the cached login another tab just wrote (`None`: it logged out).
    fn follow_session(&self, value: Option<&str>) {
        let Some(value) = value else {
            self.logout();
            return;
        };
        // A login this version cannot read (a newer SDK's) leaves this tab as it is.
        let Some(cached) = crate::core::lean_json::cached_session(value) else {
            return;
        };
        let Some(tasks) = &self.inner.tasks else {
            return;
        };
        let session_id = cached.session_id.clone();
        let Some(login) = cached.resume(&self.inner.shared.gate) else {
            return;
        };
        *self
            .inner
            .login
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(std::sync::Arc::new(CurrentLogin {
                user: login.user.clone(),
                session_id,
            }));
        if tasks.send(Task::Login(login)).is_err() {
            tracing::debug!("a login from another tab after shutdown");
        }
    }
}
