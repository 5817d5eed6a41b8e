//! A stand-in collector for `POST /v1/batch`, started inside a test on
//! 127.0.0.1. It is NOT the real `usage-server` (written separately; end-to-end
//! tests against it live in the workspace `tests/`): it stores event ids,
//! answers duplicates and opted-out users like the contract says, and plays
//! scripted error answers first.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use usage_sdk::protocol::{read_claims, Batch, BatchResponse};
use uuid::Uuid;

/// One scripted answer: status, optional `Retry-After`, JSON error code.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub retry_after: Option<u32>,
    pub code: &'static str,
}

impl Scripted {
    pub fn new(status: u16, code: &'static str) -> Self {
        Self {
            status,
            retry_after: None,
            code,
        }
    }

    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    pub token: String,
    pub ids: Vec<Uuid>,
    pub answered: u16,
    /// The body came with `Content-Encoding: gzip`.
    pub gzip: bool,
}

#[derive(Debug, Default)]
struct Inner {
    /// Requests wait before they are read while this is set; see [`Collector::hold`].
    holding: Option<Arc<Hold>>,
    /// Requests waiting now.
    waiting: usize,
    script: VecDeque<Scripted>,
    opted_out: HashSet<String>,
    stored: HashMap<Uuid, usize>,
    arrivals: Vec<Arrival>,
}

type Shared = Arc<Mutex<Inner>>;

/// Keeps requests waiting until released.
#[derive(Debug, Default)]
struct Hold {
    released: tokio::sync::Notify,
    open: std::sync::atomic::AtomicBool,
}

/// A running stand-in collector; stops when dropped.
#[derive(Debug)]
pub struct Collector {
    pub url: String,
    inner: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Starts on a free loopback port.
    pub fn start() -> Self {
        Self::start_on(0).expect("a free loopback port")
    }

    /// Starts on `port` (0: any free one).
    pub fn start_on(port: u16) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr: SocketAddr = listener.local_addr()?;
        let inner = Shared::default();
        let app = Router::new()
            .route("/v1/batch", post(batch))
            .with_state(inner.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        Ok(Self {
            url: format!("http://{addr}"),
            inner,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().expect("collector state"))
    }

    /// Answers the next requests with these, in order, before behaving normally.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.with(|i| i.script.extend(answers));
    }

    /// Holds every request from now on, unanswered (the batch is on the
    /// wire), until [`Collector::release`]; the answer is made then.
    pub fn hold(&self) {
        self.with(|i| i.holding = Some(Arc::new(Hold::default())));
    }

    /// Answers the requests held, and the later ones at once.
    pub fn release(&self) {
        if let Some(hold) = self.with(|i| i.holding.take()) {
            hold.open.store(true, std::sync::atomic::Ordering::SeqCst);
            hold.released.notify_waiters();
        }
    }

    /// Requests held unanswered now.
    pub fn waiting(&self) -> usize {
        self.with(|i| i.waiting)
    }

    /// Treats `sub` as opted out from now on.
    pub fn opt_out(&self, sub: &str) {
        self.with(|i| i.opted_out.insert(sub.to_owned()));
    }

    /// Every request so far.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.with(|i| i.arrivals.clone())
    }

    /// How often each stored id was accepted (always 1: duplicates are not stored).
    pub fn stored(&self) -> HashMap<Uuid, usize> {
        self.with(|i| i.stored.clone())
    }

    /// How many times an id was sent in any request.
    pub fn times_sent(&self, id: Uuid) -> usize {
        self.with(|i| i.arrivals.iter().filter(|a| a.ids.contains(&id)).count())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": code}});
    (status, Json(body)).into_response()
}

async fn batch(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let hold = inner.lock().expect("collector state").holding.clone();
    if let Some(hold) = hold {
        let released = hold.released.notified();
        inner.lock().expect("collector state").waiting += 1;
        // Created before the flag is read, so a release in between still wakes it.
        if !hold.open.load(std::sync::atomic::Ordering::SeqCst) {
            released.await;
        }
        inner.lock().expect("collector state").waiting -= 1;
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let gzip = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let body = if gzip {
        let mut inflated = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(&body[..]);
        if std::io::Read::read_to_end(&mut decoder, &mut inflated).is_err() {
            return error(StatusCode::BAD_REQUEST, "bad_encoding");
        }
        inflated
    } else {
        body.to_vec()
    };
    let Ok(batch) = serde_json::from_slice::<Batch>(&body) else {
        return error(StatusCode::BAD_REQUEST, "malformed_batch");
    };
    let ids: Vec<Uuid> = batch.events.iter().map(|e| e.id).collect();
    let mut inner = inner.lock().expect("collector state");
    let scripted = inner.script.pop_front();
    let status = scripted.as_ref().map_or(200, |s| s.status);
    inner.arrivals.push(Arrival {
        at: Instant::now(),
        token: token.clone(),
        ids: ids.clone(),
        answered: status,
        gzip,
    });
    if let Some(scripted) = scripted {
        let code = StatusCode::from_u16(scripted.status).expect("valid scripted status");
        let mut response = error(code, scripted.code);
        if let Some(seconds) = scripted.retry_after {
            response.headers_mut().insert("retry-after", seconds.into());
        }
        return response;
    }
    let Ok(claims) = read_claims(&token) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    let mut answer = BatchResponse::default();
    if inner.opted_out.contains(&claims.sub) {
        answer.discarded = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        answer.opted_out = true;
        return Json(answer).into_response();
    }
    for id in ids {
        match inner.stored.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => answer.duplicates += 1,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(1);
                answer.accepted += 1;
            }
        }
    }
    Json(answer).into_response()
}
