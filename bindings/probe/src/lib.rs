//! A size probe, not a product: what the SDK's shared core weighs in the
//! browser once every piece of I/O (fetch, `localStorage`, timers, Web Locks,
//! storage events, page lifecycle) is left to the page's JavaScript.
//!
//! `Core` exports the core as a sans-I/O state machine, the smallest surface a
//! JavaScript driver would need: log in and out, track, restore a journal and
//! a cached login, take the next batch, hand back the collector's answer, read
//! the effects (journal lines, cached login, server hint, 401 codes), the
//! debugger and the counters. `bindings/probe/size.sh` builds it as the
//! package is built and prints its size; see "Package size" in
//! `bindings/README.md` for the figures. No JavaScript driver exists for it.
#![cfg(target_arch = "wasm32")]

use std::sync::Arc;

use time::OffsetDateTime;
use usage_protocol::{json::raw_value, read_claims, RejectCode};
use usage_sdk::core::debugger::{DebugLog, DropReason, Fate, FateLog};
use usage_sdk::core::encoded::encode_kept;
use usage_sdk::core::engine::{Effect, Engine, EngineConfig};
use usage_sdk::core::event::build_event;
use usage_sdk::core::gate::{Gate, Mode};
use usage_sdk::core::ids::IdGen;
use usage_sdk::core::journal::{encode, replay};
use usage_sdk::core::lean_json::{self, cached_session_text, json_string, push_str};
use usage_sdk::core::reply::{HttpReply, TransportError};
use usage_sdk::core::session::{user_key, Login};
use wasm_bindgen::prelude::*;

/// Milliseconds from JavaScript (a `number`), as the core counts them.
fn ms(value: f64) -> u64 {
    // Saturating: NaN and negatives become 0, as `Date.now()` never gives.
    value as u64
}

/// The core, driven by the page.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Core {
    engine: Engine,
    gate: Gate,
    ids: IdGen,
    debug: DebugLog,
    fates: FateLog,
    /// The user and session id of the current login.
    session: Option<(Arc<str>, String)>,
}

/// A batch for the page to send.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Batch {
    flight: f64,
    token: String,
    body: String,
}

#[wasm_bindgen]
impl Batch {
    /// Names the batch in `Core.onReply`.
    #[wasm_bindgen(getter)]
    pub fn flight(&self) -> f64 {
        self.flight
    }

    /// The `Authorization: Bearer` value.
    #[wasm_bindgen(getter)]
    pub fn token(&self) -> String {
        self.token.clone()
    }

    /// The JSON body.
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> String {
        self.body.clone()
    }
}

#[wasm_bindgen]
impl Core {
    /// An empty core; `dnt` drops every event, as the browser's signals ask.
    #[wasm_bindgen(constructor)]
    pub fn new(
        batch_size: u32,
        max_queued: u32,
        seed: f64,
        debug_capacity: u32,
        dnt: bool,
    ) -> Core {
        let mut config = EngineConfig::default();
        config.batch.size = batch_size as usize;
        config.max_queued = max_queued as usize;
        Core {
            engine: Engine::new(config),
            gate: Gate::new(if dnt {
                Mode::DoNotTrack
            } else {
                Mode::NoSession
            }),
            ids: IdGen::new(ms(seed)),
            debug: DebugLog::new(debug_capacity as usize),
            fates: FateLog::new(debug_capacity as usize),
            session: None,
        }
    }

    /// Takes back a journal and the cached login the page read.
    pub fn restore(&mut self, journal: &str, cached: Option<String>, now: f64) {
        self.engine.restore(replay(journal.as_bytes()));
        if let Some(login) = cached
            .as_deref()
            .and_then(lean_json::cached_session)
            .and_then(|session| session.resume(&self.gate))
        {
            self.session = Some((login.user.clone(), login.session_id.clone()));
            self.engine.login(login, ms(now));
        }
    }

    /// Logs in; the token's claims as JSON, or throws `invalid_token`.
    pub fn login(&mut self, token: &str, wall_ms: f64, now: f64) -> Result<String, JsValue> {
        let claims = read_claims(token).map_err(|_| JsValue::from_str("invalid_token"))?;
        let user = user_key(&claims);
        let session_id = self.ids.uuid_v7(ms(wall_ms)).to_string();
        let generation = self.gate.advance(if claims.opt_out {
            Mode::OptedOut
        } else {
            Mode::Active
        });
        self.session = Some((user.clone(), session_id.clone()));
        self.engine.login(
            Login {
                user,
                token: token.to_owned(),
                opted_out: claims.opt_out,
                generation,
                session_id,
            },
            ms(now),
        );
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"org\":");
        push_str(&claims.org, &mut out);
        out.extend_from_slice(b",\"sub\":");
        push_str(&claims.sub, &mut out);
        out.extend_from_slice(if claims.opt_out {
            b",\"optOut\":true,\"rev\":"
        } else {
            b",\"optOut\":false,\"rev\":"
        });
        out.extend_from_slice(claims.rev.to_string().as_bytes());
        out.extend_from_slice(b",\"iat\":");
        out.extend_from_slice(claims.iat.to_string().as_bytes());
        out.extend_from_slice(b",\"exp\":");
        out.extend_from_slice(claims.exp.to_string().as_bytes());
        out.push(b'}');
        Ok(String::from_utf8(out).unwrap_or_default())
    }

    /// Logs out: later events are held.
    pub fn logout(&mut self, now: f64) {
        self.gate.advance(Mode::NoSession);
        self.session = None;
        self.engine.logout(ms(now));
    }

    /// Tracks an event (`props`: JSON text, or none). Answers 0 queued, 1
    /// held, 2 and up a drop reason, 10 and up a refusal code.
    pub fn track(&mut self, name: &str, props: Option<String>, wall_ms: f64, now: f64) -> u32 {
        let reason = match self.gate.mode() {
            Mode::OptedOut => Some(DropReason::OptedOut),
            Mode::DoNotTrack => Some(DropReason::DoNotTrack),
            Mode::Closed => Some(DropReason::ShutDown),
            Mode::Active | Mode::NoSession => None,
        };
        if let Some(reason) = reason {
            self.debug.record(None, name, Fate::Dropped { reason });
            return 2 + reason as u32;
        }
        let id = self.ids.uuid_v7(ms(wall_ms));
        let session = self.session.as_ref().map(|(_, id)| id.clone());
        let logged_in = session.is_some();
        let event = raw_value(props.as_deref().unwrap_or("null"))
            .ok_or(RejectCode::InvalidProps)
            .and_then(|props| build_event(id, name, wall_ms as i64, &*props, session));
        match event {
            Err(code) => {
                self.debug.record(Some(id), name, Fate::Invalid { code });
                10 + code as u32
            }
            Ok(event) => {
                self.engine.track(event, ms(now));
                let fate = if logged_in { Fate::Queued } else { Fate::Held };
                self.debug.record(Some(id), name, fate);
                u32::from(!logged_in)
            }
        }
    }

    /// The next batch due at `now`, if any.
    pub fn poll(&mut self, now: f64, wall_ms: f64) -> Option<Batch> {
        let sent_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(wall_ms as i64) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        self.engine.poll(ms(now), sent_at).map(|out| Batch {
            flight: out.flight as f64,
            token: out.token,
            body: String::from_utf8(out.body).unwrap_or_default(),
        })
    }

    /// The collector's answer to a batch.
    #[wasm_bindgen(js_name = onReply)]
    pub fn on_reply(
        &mut self,
        flight: f64,
        status: u16,
        retry_after: Option<String>,
        body: &str,
        now: f64,
        random: f64,
    ) {
        let reply = HttpReply {
            status,
            retry_after,
            body: body.as_bytes().to_vec(),
        };
        self.engine
            .on_reply(ms(flight), Ok(reply), ms(now), ms(random));
    }

    /// A batch that could not be sent at all.
    #[wasm_bindgen(js_name = onError)]
    pub fn on_error(&mut self, flight: f64, message: String, now: f64, random: f64) {
        self.engine.on_reply(
            ms(flight),
            Err(TransportError(message)),
            ms(now),
            ms(random),
        );
    }

    /// When to call `poll` next (-1: only after the next call).
    #[wasm_bindgen(js_name = nextWakeup)]
    pub fn next_wakeup(&self, now: f64) -> f64 {
        self.engine
            .next_wakeup(ms(now))
            .map_or(-1.0, |at| at as f64)
    }

    /// Sends what is queued without waiting for the interval (page hidden).
    pub fn expedite(&mut self, now: f64) {
        self.engine.expedite(ms(now));
    }

    /// What the page must do, as commands: `J<line>` appends journal lines,
    /// `R<journal>\u{1e}` replaces the journal, `S<json>\n` caches the login
    /// (empty: clear it), `O\n` the server's opted-out hint, `U<code>\n` a 401.
    pub fn effects(&mut self) -> String {
        let mut out = Vec::new();
        for effect in self.engine.take_effects() {
            match effect {
                Effect::Fate { id, fate } => self.fates.update(id, fate),
                Effect::Journal(record) => {
                    out.push(b'J');
                    out.extend_from_slice(&encode(&[record]));
                }
                Effect::JournalKept { user, event } => {
                    out.push(b'J');
                    encode_kept(user.as_deref(), &event, &mut out);
                }
                Effect::RewriteJournal => {
                    out.push(b'R');
                    out.extend_from_slice(&self.engine.snapshot());
                    out.push(0x1e);
                }
                Effect::CacheSession(session) => {
                    out.push(b'S');
                    if let Some(session) = session {
                        out.extend_from_slice(cached_session_text(&session).as_bytes());
                    }
                    out.push(b'\n');
                }
                Effect::ServerOptedOut { generation } => {
                    if self.gate.server_opted_out(generation) {
                        out.extend_from_slice(b"O\n");
                    }
                }
                Effect::Unauthorized { code } => {
                    out.push(b'U');
                    out.extend_from_slice(code.as_bytes());
                    out.push(b'\n');
                }
            }
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// The debugger as JSON: `[{ seq, id?, name, text }]`, oldest first.
    #[wasm_bindgen(js_name = debugEvents)]
    pub fn debug_events(&self) -> String {
        let mut out = String::from("[");
        for (n, entry) in self.debug.entries(&self.fates).iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str("{\"seq\":");
            out.push_str(&entry.seq.to_string());
            if let Some(id) = entry.id {
                out.push_str(",\"id\":\"");
                out.push_str(&id.to_string());
                out.push('"');
            }
            out.push_str(",\"name\":");
            out.push_str(&json_string(entry.name.as_str()));
            out.push_str(",\"text\":");
            out.push_str(&json_string(&entry.fate.to_string()));
            out.push('}');
        }
        out.push(']');
        out
    }

    /// The queue and the counters as JSON.
    pub fn status(&self) -> String {
        let c = self.engine.counters();
        let (queued, held) = self.engine.backlog();
        format!(
            "{{\"queued\":{queued},\"held\":{held},\"counters\":{{\"accepted\":{},\"discarded\":{},\"dropped\":{},\"refused\":{},\"attempts\":{}}}}}",
            c.accepted, c.discarded, c.dropped, c.refused, c.attempts
        )
    }
}
