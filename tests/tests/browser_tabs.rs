//! Several tabs of one app on one origin, in headless Chromium against the
//! real `usage-server`: every event is stored exactly once through reloads and
//! a tab closed mid-send, and a login, a logout and the server's opted-out
//! hint in one tab reach the others at once.
//!
//! The first tab opens the others with `window.open` and drives them through
//! the handles it gets back (same origin, so it reaches their `tracker`).

mod browser_support;

use std::collections::HashSet;
use std::time::Duration;

use browser_support::{open, run, Site, PATIENCE};
use serde_json::{json, Value};
use support::webdriver::{Browser, BrowserOptions};

/// How long another tab may take to follow a login, logout or hint.
const FOLLOW: Duration = Duration::from_secs(3);

/// Functions the first tab gets: opening, reloading and closing the other tabs,
/// and tracking in all of them.
const TAB_FUNCTIONS: &str = r#"
window.tabs = {};
const ready = (w, old) => {
  try { return w.document !== old && w.document.body?.dataset.ready === "true"; } catch { return false; }
};
const waitFor = (what, test) => new Promise((resolve, reject) => {
  const started = Date.now();
  const check = () => {
    if (test()) { resolve(true); return; }
    if (Date.now() - started > 20000) { reject(new Error(what)); return; }
    setTimeout(check, 20);
  };
  check();
});
window.openTab = async (name) => {
  const w = window.open(location.href, name);
  if (!w) throw new Error("the browser refused to open a tab");
  tabs[name] = w;
  await waitFor(`tab ${name} to load`, () => ready(w, undefined));
};
window.reloadTab = async (name) => {
  const old = tabs[name].document;
  tabs[name].location.reload();
  await waitFor(`tab ${name} to load again`, () => ready(tabs[name], old));
};
window.everyTab = () => ({ a: window, ...tabs });
window.trackIn = (names, count, round) => {
  const ids = [];
  for (const name of names) {
    for (let k = 0; k < count; k += 1) {
      const result = everyTab()[name].tracker.track("tab.work", { tab: name, round, k });
      if (result.outcome !== "queued" && result.outcome !== "held") {
        throw new Error(`tab ${name}: ${JSON.stringify(result)}`);
      }
      ids.push(result.id);
    }
  }
  return ids;
};
"#;

/// Opens the first tab with those functions, and the other tabs `names`.
async fn open_tabs(browser: &Browser, site: &Site, options: &Value, names: &[&str]) {
    open(browser, &site.page(options)).await;
    run(browser, "install the tab functions", TAB_FUNCTIONS, vec![]).await;
    for name in names {
        run(
            browser,
            "open a tab",
            "return openTab(arguments[0]);",
            vec![json!(name)],
        )
        .await;
    }
}

/// What `track()` answers in tab `name` now.
async fn track_outcome(browser: &Browser, name: &str) -> Value {
    run(
        browser,
        "track in a tab",
        "return everyTab()[arguments[0]].tracker.track('probe');",
        vec![json!(name)],
    )
    .await
}

/// Waits until `track()` in tab `name` answers `outcome`, within [`FOLLOW`].
async fn until_outcome(browser: &Browser, name: &str, outcome: &str) -> Value {
    let waited = support::wait::until(
        &format!("track() in tab {name} to answer {outcome}"),
        FOLLOW,
        || async {
            let answer = track_outcome(browser, name).await;
            (answer["outcome"] == outcome).then_some(answer)
        },
    )
    .await;
    waited.unwrap_or_else(|error| panic!("{error}"))
}

async fn log_in(browser: &Browser, site: &Site, tab: &str, user: &str) {
    let token = site.token(user).await;
    run(
        browser,
        "log in",
        "everyTab()[arguments[0]].tracker.login(arguments[1]);",
        vec![json!(tab), json!(token)],
    )
    .await;
}

async fn start() -> Option<(Site, Browser)> {
    let site = Site::start().await?;
    let browser = Browser::start_or_skip(BrowserOptions::default()).await?;
    Some((site, browser))
}

#[tokio::test]
async fn three_tabs_deliver_every_event_once_through_reloads_and_a_closed_tab() {
    let Some((site, browser)) = start().await else {
        return;
    };
    let options =
        json!({ "batchSize": 50, "batchIntervalMs": 200, "retryBaseMs": 100, "retryCapMs": 1000 });
    // Logged in before b and c open: they start with the cached login.
    open_tabs(&browser, &site, &options, &[]).await;
    log_in(&browser, &site, "a", "bob").await;
    for name in ["b", "c"] {
        run(
            &browser,
            "open a tab",
            "return openTab(arguments[0]);",
            vec![json!(name)],
        )
        .await;
    }

    // Batches of b and c get no answer, so their events leave only if
    // another tab takes them over: as if each send were cut off by the
    // reload or the close that follows it.
    stall(&browser, &["b", "c"]).await;
    // Round 1: all three track, and tab b reloads while its batches go out.
    let mut tracked = track_round(&browser, 1).await;
    run(&browser, "reload b", "return reloadTab('b');", vec![]).await;
    // Round 2: the same, b reloads a second time.
    stall(&browser, &["b"]).await;
    tracked.extend(track_round(&browser, 2).await);
    run(&browser, "reload b again", "return reloadTab('b');", vec![]).await;
    // Round 3: and tab c closes, none of its 300 events delivered by itself.
    tracked.extend(track_round(&browser, 3).await);
    run(
        &browser,
        "close c",
        "tabs.c.close(); delete tabs.c;",
        vec![],
    )
    .await;
    assert_eq!(tracked.len(), 900);

    let expected = 900;
    site_wait_stored(&site, expected).await;
    // A late duplicate could only come from a tab still open: once each has
    // nothing left to send (closed tabs' journals taken over included),
    // what is stored is final.
    let settled = run(
        &browser,
        "flush the open tabs",
        "return Promise.all(Object.values(everyTab()).map((w) => w.tracker.flush(20000)));",
        vec![],
    )
    .await;
    assert_eq!(
        settled,
        json!([true, true]),
        "tabs a and b have nothing left to send"
    );
    let stored = site.stored_ids();
    let unique: HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "no event is stored twice");
    assert_eq!(stored.len(), expected, "every event is stored once");
    let missing: Vec<&String> = tracked.iter().filter(|id| !unique.contains(id)).collect();
    assert!(missing.is_empty(), "events never stored: {missing:?}");
    browser.close().await.expect("close the browser");
}

/// Makes the batches of tabs `names` go unanswered from now on (until a reload).
async fn stall(browser: &Browser, names: &[&str]) {
    let script = "for (const name of arguments[0]) { tabs[name].stallBatches = true; }";
    run(browser, "stall batches", script, vec![json!(names)]).await;
}

/// Tracks 100 events in each of tabs a, b and c; returns their ids.
async fn track_round(browser: &Browser, round: u32) -> Vec<String> {
    let ids = run(
        browser,
        &format!("round {round}"),
        "return trackIn(['a', 'b', 'c'], 100, arguments[0]);",
        vec![json!(round)],
    )
    .await;
    serde_json::from_value(ids).expect("event ids")
}

/// Waits until the server stored at least `count` events; returns how many it has.
async fn site_wait_stored(site: &Site, count: usize) -> usize {
    let waited = support::wait::until(
        &format!("the server to store {count} events"),
        PATIENCE,
        || async {
            let stored = site.stored_ids().len();
            (stored >= count).then_some(stored)
        },
    )
    .await;
    waited.unwrap_or_else(|error| {
        panic!(
            "{error}; stored {}\n--- server stderr ---\n{}",
            site.stored_ids().len(),
            site.server.stderr()
        )
    })
}

#[tokio::test]
async fn a_login_and_a_logout_in_one_tab_reach_the_other() {
    let Some((site, browser)) = start().await else {
        return;
    };
    open_tabs(&browser, &site, &json!({}), &["b"]).await;
    assert_eq!(
        track_outcome(&browser, "b").await["outcome"],
        "held",
        "no one is logged in yet"
    );

    log_in(&browser, &site, "a", "bob").await;
    until_outcome(&browser, "b", "queued").await;

    run(&browser, "log out", "tracker.logout();", vec![]).await;
    until_outcome(&browser, "b", "held").await;
    for _ in 0..3 {
        assert_eq!(
            track_outcome(&browser, "b").await["outcome"],
            "held",
            "every event tracked in b after the logout waits for a login"
        );
    }
    browser.close().await.expect("close the browser");
}

#[tokio::test]
async fn the_servers_opted_out_hint_in_one_tab_silences_the_others() {
    let Some((site, browser)) = start().await else {
        return;
    };
    open_tabs(&browser, &site, &json!({}), &["b", "c"]).await;
    log_in(&browser, &site, "a", "bob").await;
    until_outcome(&browser, "b", "queued").await;
    until_outcome(&browser, "c", "queued").await;
    let flush_all =
        "return Promise.all(Object.values(everyTab()).map((w) => w.tracker.flush(5000)));";
    run(&browser, "flush", flush_all, vec![]).await;
    let before = site_wait_stored(&site, 2).await;

    // An admin opts Bob out; tab a's token still says "tracked", so a sends
    // once more, and the server's answer says "opted out".
    site.opt_out("bob").await;
    run(
        &browser,
        "track and flush in a",
        "tracker.track('after.opt-out'); return tracker.flush(5000);",
        vec![],
    )
    .await;
    let dropping = run(&browser, "a's flag", "return tracker.isDropping;", vec![]).await;
    assert_eq!(dropping, json!(true), "the hint turned a's flag");

    let batches = "return [tabs.b.sent.batches, tabs.c.sent.batches];";
    let sent_before = run(&browser, "count batches", batches, vec![]).await;
    for tab in ["b", "c"] {
        let answer = until_outcome(&browser, tab, "dropped").await;
        assert_eq!(answer["reason"], "opted_out");
        for _ in 0..5 {
            assert_eq!(track_outcome(&browser, tab).await["reason"], "opted_out");
        }
    }
    run(&browser, "flush", flush_all, vec![]).await;
    assert_eq!(
        run(&browser, "count batches", batches, vec![]).await,
        sent_before,
        "tabs b and c sent nothing more"
    );
    assert_eq!(site.stored_ids().len(), before, "nothing more was stored");
    browser.close().await.expect("close the browser");
}
