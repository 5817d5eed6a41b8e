//! Accepted, then stored in PostgreSQL: every event the batch reader accepts
//! is stored by the PostgreSQL sink without failing its batch, and reads back
//! as exactly that event, with the org, user and SDK it was stored for.
//!
//! Needs a PostgreSQL server: `USAGE_FUZZ_DATABASE_URL`, else
//! `USAGE_TEST_DATABASE_URL` (the one `tests/run` starts). Rows go to a
//! schema of their own, `usage_fuzz`, and are deleted once checked.
//!
//! One insert per input would make PostgreSQL's round trip the whole cost,
//! so accepted events are written in groups of inputs (one insert per SDK
//! label in the group) and read back together. When a group fails, its
//! inputs are tried one by one and the first that fails is named in the
//! panic, as an escaped string: libFuzzer saves only the input that closed
//! the group.

#![no_main]

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row as _};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use usage_protocol::Event;
use usage_validator::batch;
use usage_validator::sink::{Accepted, PostgresSink, Sink as _, Source};

/// Inputs per group: enough that the round trip is a small part of each.
const GROUP_INPUTS: usize = 256;
/// Events per group; PostgreSQL takes at most 65,535 parameters a statement,
/// 10 an event.
const GROUP_EVENTS: usize = 4_000;
const ORG: &str = "acme";
const USER: &str = "bob";

struct Pending {
    /// The raw inputs of the group, to find the culprit when it fails.
    inputs: Vec<Vec<u8>>,
    /// Accepted events by SDK label, in the order accepted.
    by_sdk: BTreeMap<String, Vec<Event>>,
    events: usize,
    next_id: u128,
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    pool: PgPool,
    sink: PostgresSink,
    pending: Mutex<Pending>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let url = std::env::var("USAGE_FUZZ_DATABASE_URL")
            .or_else(|_| std::env::var("USAGE_TEST_DATABASE_URL"))
            .expect("USAGE_FUZZ_DATABASE_URL or USAGE_TEST_DATABASE_URL names a PostgreSQL server");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (pool, sink) = runtime.block_on(async {
            let options = PgConnectOptions::from_str(&url)
                .expect("a PostgreSQL URL")
                .options([("search_path", "usage_fuzz")]);
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .expect("connect to PostgreSQL");
            sqlx::query("CREATE SCHEMA IF NOT EXISTS usage_fuzz")
                .execute(&pool)
                .await
                .expect("schema");
            let sink = PostgresSink::with_pool(pool.clone()).await.expect("sink");
            // Left over from a run that stopped mid-group.
            sqlx::query("DELETE FROM usage_events")
                .execute(&pool)
                .await
                .expect("empty table");
            (pool, sink)
        });
        Fixture {
            runtime,
            pool,
            sink,
            pending: Mutex::new(Pending {
                inputs: Vec::new(),
                by_sdk: BTreeMap::new(),
                events: 0,
                next_id: 1,
            }),
        }
    })
}

/// Accepted events of one input, with ids made unique: the table keeps the
/// first of two events with one id, and mutated inputs repeat ids.
fn accept(data: &[u8], next_id: &mut u128) -> Option<(String, Vec<Event>)> {
    let parsed = batch::parse(data).ok()?;
    let mut events: Vec<Event> = parsed.events.into_iter().flatten().collect();
    for event in &mut events {
        event.id = uuid::Uuid::from_u128(*next_id);
        *next_id += 1;
    }
    let sdk = format!("{}/{}", parsed.sdk.name, parsed.sdk.version);
    (!events.is_empty()).then_some((sdk, events))
}

/// Stores the events, reads them back and empties the table; says what
/// differs, if anything.
async fn round_trip(
    pool: &PgPool,
    sink: &PostgresSink,
    by_sdk: &BTreeMap<String, Vec<Event>>,
) -> Result<(), String> {
    let received_at = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a time");
    for (sdk, events) in by_sdk {
        let batch = Accepted {
            org: ORG,
            user: USER,
            source: Source::Client,
            sdk: Some(sdk),
            received_at,
            events,
        };
        sink.write(batch)
            .await
            .map_err(|e| format!("the sink refused an accepted batch: {e}"))?;
    }
    let rows = sqlx::query(
        "SELECT org, id::text AS id, user_id, name, ts, props::text AS props, session, source, sdk
         FROM usage_events ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| format!("read back: {e}"))?;
    sqlx::query("DELETE FROM usage_events")
        .execute(pool)
        .await
        .map_err(|e| format!("empty table: {e}"))?;
    let sent: Vec<(&String, &Event)> = by_sdk
        .iter()
        .flat_map(|(sdk, events)| events.iter().map(move |e| (sdk, e)))
        .collect();
    if rows.len() != sent.len() {
        return Err(format!("{} events sent, {} stored", sent.len(), rows.len()));
    }
    for (row, (sdk, event)) in rows.iter().zip(sent) {
        let stored = read_row(row).map_err(|e| format!("row of {}: {e}", event.id))?;
        let expected = (
            ORG.to_owned(),
            event.id.to_string(),
            USER.to_owned(),
            event.name.clone(),
            event.ts,
            event
                .props
                .as_ref()
                .map(|p| by_value(serde_json::from_str(p.get()).expect("accepted props are JSON"))),
            event.session.clone(),
            "client".to_owned(),
            Some(sdk.clone()),
        );
        if stored != expected {
            return Err(format!("stored {stored:?}, sent {expected:?}"));
        }
    }
    Ok(())
}

/// jsonb keeps values, not spelling: it writes `1e3` as `1000` and drops
/// repeated keys but the last. So props compare as JSON values, numbers as
/// the doubles a JSON reader makes of them (correctly rounded: the crate
/// turns on serde_json's `float_roundtrip`, which changes nothing else).
fn by_value(value: Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Number(n), Value::Number),
        Value::Array(items) => Value::Array(items.into_iter().map(by_value).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| (key, by_value(value)))
                .collect(),
        ),
        other => other,
    }
}

type StoredRow = (
    String,
    String,
    String,
    String,
    OffsetDateTime,
    Option<Value>,
    Option<String>,
    String,
    Option<String>,
);

fn read_row(row: &sqlx::postgres::PgRow) -> Result<StoredRow, String> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(|e| e.to_string());
    let props: Option<String> = row.try_get("props").map_err(|e| e.to_string())?;
    let props = props
        .map(|p| {
            serde_json::from_str(&p)
                .map(by_value)
                .map_err(|e| format!("props {p:?}: {e}"))
        })
        .transpose()?;
    Ok((
        text("org")?,
        text("id")?,
        text("user_id")?,
        text("name")?,
        OffsetDateTime::parse(&text("ts")?, &Rfc3339).map_err(|e| format!("ts: {e}"))?,
        props,
        row.try_get("session").map_err(|e| e.to_string())?,
        text("source")?,
        row.try_get("sdk").map_err(|e| e.to_string())?,
    ))
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let mut pending = fixture.pending.lock().expect("one run at a time");
    let pending = &mut *pending;
    let Some((sdk, events)) = accept(data, &mut pending.next_id) else {
        return;
    };
    pending.events += events.len();
    pending.by_sdk.entry(sdk).or_default().extend(events);
    pending.inputs.push(data.to_vec());
    if pending.inputs.len() < GROUP_INPUTS && pending.events < GROUP_EVENTS {
        return;
    }
    let by_sdk = std::mem::take(&mut pending.by_sdk);
    let inputs = std::mem::take(&mut pending.inputs);
    pending.events = 0;
    let outcome = fixture
        .runtime
        .block_on(round_trip(&fixture.pool, &fixture.sink, &by_sdk));
    let Err(group_error) = outcome else {
        return;
    };
    for input in &inputs {
        let Some((sdk, events)) = accept(input, &mut pending.next_id) else {
            continue;
        };
        let alone = BTreeMap::from([(sdk, events)]);
        if let Err(error) = fixture
            .runtime
            .block_on(round_trip(&fixture.pool, &fixture.sink, &alone))
        {
            panic!(
                "input {:?} did not round-trip: {error}",
                String::from_utf8_lossy(input)
            );
        }
    }
    panic!("a group of inputs did not round-trip, though each alone did: {group_error}");
});
