//! Rust results as plain JavaScript objects, built property by property.
//!
//! Not through serde: a JSON round trip (`serde_json` then `JSON.parse`) put
//! a serializer per type into the package, and these objects are small and
//! fixed. The names and shapes match the serde form of the same types, which
//! the tests hold them to.

use js_sys::{Object, Reflect};
use usage_sdk::protocol::Claims;
use usage_sdk::{Counters, DebugEntry, DropReason, Fate, Status, Tracked};
use wasm_bindgen::{JsCast, JsValue};

/// A plain object under construction.
struct Plain(Object);

impl Plain {
    fn new() -> Self {
        Self(Object::new())
    }

    fn set(&self, name: &str, value: impl Into<JsValue>) -> &Self {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&self.0, &name.into(), &value.into());
        self
    }

    fn into_js<J: JsCast>(self) -> J {
        self.0.unchecked_into()
    }
}

/// Counts as JavaScript numbers: exact up to 2^53, far beyond any count here.
fn number(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// The token's claims with JavaScript names: `{ org, sub, optOut, rev, iat, exp }`.
pub(crate) fn claims<J: JsCast>(claims: &Claims) -> J {
    let object = Plain::new();
    object
        .set("org", claims.org.as_str())
        .set("sub", claims.sub.as_str())
        .set("optOut", claims.opt_out)
        .set("rev", number(claims.rev))
        .set("iat", JsValue::from_f64(claims.iat as f64))
        .set("exp", JsValue::from_f64(claims.exp as f64));
    object.into_js()
}

/// The names and fixed values of `track()`'s answers as JavaScript strings,
/// made once: decoding them from UTF-8 on every call was most of what a
/// dropped event cost.
struct Words {
    outcome: JsValue,
    id: JsValue,
    reason: JsValue,
    queued: JsValue,
    held: JsValue,
    dropped: JsValue,
    reasons: [JsValue; 5],
}

impl Words {
    fn new() -> Self {
        let reasons = [
            DropReason::OptedOut,
            DropReason::DoNotTrack,
            DropReason::QueueFull,
            DropReason::NoSession,
            DropReason::ShutDown,
        ];
        Self {
            outcome: "outcome".into(),
            id: "id".into(),
            reason: "reason".into(),
            queued: "queued".into(),
            held: "held".into(),
            dropped: "dropped".into(),
            reasons: reasons.map(|reason| drop_reason(reason).into()),
        }
    }

    fn reason(&self, reason: DropReason) -> &JsValue {
        let at = match reason {
            DropReason::OptedOut => 0,
            DropReason::DoNotTrack => 1,
            DropReason::QueueFull => 2,
            DropReason::NoSession => 3,
            DropReason::ShutDown => 4,
        };
        &self.reasons[at]
    }
}

thread_local! {
    static WORDS: Words = Words::new();
}

/// What `track()` did: `{ outcome, id | reason | code }`.
pub(crate) fn tracked<J: JsCast>(tracked: Tracked) -> J {
    let object = Object::new();
    WORDS.with(|words| {
        let (outcome, name, value) = match tracked {
            Tracked::Queued(id) => (&words.queued, &words.id, id.to_string().into()),
            Tracked::Held(id) => (&words.held, &words.id, id.to_string().into()),
            Tracked::Dropped(reason) => {
                (&words.dropped, &words.reason, words.reason(reason).clone())
            }
            Tracked::Invalid(code) => {
                let plain = Plain(object.clone());
                plain.set("outcome", "invalid").set("code", code.as_str());
                return;
            }
        };
        // Setting properties on a fresh plain object cannot fail.
        let _ = Reflect::set(&object, &words.outcome, outcome);
        let _ = Reflect::set(&object, name, &value);
    });
    object.unchecked_into()
}

/// The snake_case name of a drop reason, as serde writes it.
pub(crate) fn drop_reason(reason: DropReason) -> &'static str {
    match reason {
        DropReason::OptedOut => "opted_out",
        DropReason::DoNotTrack => "do_not_track",
        DropReason::QueueFull => "queue_full",
        DropReason::NoSession => "no_session",
        DropReason::ShutDown => "shut_down",
    }
}

/// One debugger entry: `{ seq, id, name, fate, ...details, text }`, the
/// fate also in words (`text`) for panels.
fn debug_entry(entry: &DebugEntry) -> JsValue {
    let object = Plain::new();
    object
        .set("seq", number(entry.seq))
        .set(
            "id",
            entry.id.map_or(JsValue::NULL, |id| id.to_string().into()),
        )
        .set("name", entry.name.as_str());
    let fate = match &entry.fate {
        Fate::Held => "held",
        Fate::Queued => "queued",
        Fate::Sent { attempt } => {
            object.set("attempt", *attempt);
            "sent"
        }
        Fate::AwaitingLogin { code } => {
            object.set("code", code.as_str());
            "awaiting_login"
        }
        Fate::Accepted => "accepted",
        Fate::Discarded => "discarded",
        Fate::Rejected { code } => {
            object.set("code", code.as_str());
            "rejected"
        }
        Fate::Invalid { code } => {
            object.set("code", code.as_str());
            "invalid"
        }
        Fate::Refused { status, code } => {
            object.set("status", *status).set(
                "code",
                code.as_deref().map_or(JsValue::NULL, JsValue::from_str),
            );
            "refused"
        }
        Fate::Dropped { reason } => {
            object.set("reason", drop_reason(*reason));
            "dropped"
        }
    };
    object.set("fate", fate).set("text", entry.fate.to_string());
    object.into_js()
}

/// The debugger log as an array of entries, oldest first.
pub(crate) fn debug_entries<J: JsCast>(entries: &[DebugEntry]) -> J {
    entries
        .iter()
        .map(debug_entry)
        .collect::<js_sys::Array>()
        .unchecked_into()
}

fn counters(counters: &Counters) -> JsValue {
    let object = Plain::new();
    object
        .set("accepted", number(counters.accepted))
        .set("discarded", number(counters.discarded))
        .set("dropped", number(counters.dropped))
        .set("refused", number(counters.refused))
        .set("attempts", number(counters.attempts));
    object.into_js()
}

/// How delivery stands: `{ queued, held, unprocessed, counters }`.
pub(crate) fn status<J: JsCast>(status: &Status) -> J {
    let object = Plain::new();
    object
        .set("queued", status.queued as f64)
        .set("held", status.held as f64)
        .set("unprocessed", status.unprocessed as f64)
        .set("counters", counters(&status.counters));
    object.into_js()
}

#[cfg(test)]
mod tests {
    use usage_sdk::protocol::RejectCode;
    use usage_sdk::NameText;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    use super::*;

    wasm_bindgen_test_configure!(run_in_browser);

    /// What `JSON.stringify` makes of a JavaScript value, read back by serde.
    fn as_json(value: &JsValue) -> serde_json::Value {
        let text = js_sys::JSON::stringify(value)
            .expect("plain data")
            .as_string()
            .expect("a string");
        serde_json::from_str(&text).expect("JSON")
    }

    #[wasm_bindgen_test]
    fn debug_entries_have_the_shape_serde_gives_them_plus_their_text() {
        let fates = [
            Fate::Held,
            Fate::Queued,
            Fate::Sent { attempt: 3 },
            Fate::AwaitingLogin {
                code: "token_expired".into(),
            },
            Fate::Accepted,
            Fate::Discarded,
            Fate::Rejected {
                code: RejectCode::InvalidName,
            },
            Fate::Invalid {
                code: RejectCode::PropsTooLarge,
            },
            Fate::Refused {
                status: 400,
                code: Some("malformed_batch".into()),
            },
            Fate::Refused {
                status: 418,
                code: None,
            },
            Fate::Dropped {
                reason: DropReason::OptedOut,
            },
            Fate::Dropped {
                reason: DropReason::DoNotTrack,
            },
            Fate::Dropped {
                reason: DropReason::QueueFull,
            },
            Fate::Dropped {
                reason: DropReason::NoSession,
            },
            Fate::Dropped {
                reason: DropReason::ShutDown,
            },
        ];
        let entries: Vec<DebugEntry> = fates
            .into_iter()
            .enumerate()
            .map(|(seq, fate)| DebugEntry {
                seq: seq as u64,
                id: (seq % 2 == 0).then(|| {
                    uuid::Uuid::from_u128(0x0189_0000_0000_7000_8000_0000_0000_0000 + seq as u128)
                }),
                name: NameText::new("report.opened"),
                fate,
            })
            .collect();
        let built: js_sys::Array = debug_entries(&entries);
        assert_eq!(built.length() as usize, entries.len());
        for (entry, built) in entries.iter().zip(built.iter()) {
            let mut expected = serde_json::to_value(entry).expect("serializes");
            expected["text"] = entry.fate.to_string().into();
            assert_eq!(as_json(&built), expected, "{:?}", entry.fate);
        }
    }

    #[wasm_bindgen_test]
    fn status_has_the_shape_serde_gives_it() {
        let status = Status {
            queued: 3,
            held: 1,
            unprocessed: 2,
            counters: Counters {
                accepted: 10,
                discarded: 4,
                dropped: 5,
                refused: 6,
                attempts: 7,
            },
        };
        let built: JsValue = super::status(&status);
        assert_eq!(
            as_json(&built),
            serde_json::to_value(status).expect("serializes")
        );
    }
}
