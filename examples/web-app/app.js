// The web example: sign in as a demo user, track events, watch their fate.
//
// The package is `bindings/pkg`, built by `bindings/build.sh` and reached here
// through the `pkg` link. Everything below uses only its public API.

const $ = (selector) => document.querySelector(selector);
const APP = "web-example";
// Who is signed in, for the page's own display; the SDK keeps the token itself.
const WHO = `${APP}/signed-in-as`;

function problem(text) {
  $("#problem").textContent = text;
  $("#problem").hidden = !text;
}

async function loadPackage() {
  try {
    const sdk = await import("./pkg/usage_sdk.js");
    await sdk.default();
    return sdk;
  } catch (error) {
    problem("The usage-sdk package is not built. From the repository root run: bindings/build.sh " +
      `(then reload). Details: ${error}`);
    throw error;
  }
}

// A real web app gets the status token from its own back end at login. The
// demo server stands in for that back end with `POST /demo/token`, on the
// origin that served this page: the page holds no key, and `?endpoint=`
// (where batches go) never receives anything but batches.
async function fetchToken(user) {
  const response = await fetch("/demo/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body?.error?.message || `POST /demo/token answered ${response.status}`);
  }
  return body.token;
}

function renderDebugger(tracker) {
  const rows = tracker.debugEvents().reverse().map((entry) => {
    const row = document.createElement("tr");
    row.dataset.seq = entry.seq;
    row.dataset.name = entry.name;
    row.dataset.fate = entry.fate;
    if (entry.reason) row.dataset.reason = entry.reason;
    for (const text of [entry.seq, entry.name, entry.id ? entry.id.slice(-12) : "-", entry.text]) {
      const cell = document.createElement("td");
      cell.textContent = String(text);
      row.append(cell);
    }
    row.lastChild.className = `fate fate-${entry.fate}`;
    return row;
  });
  $("#debugger tbody").replaceChildren(...rows);
}

function renderStatus(tracker) {
  const { queued, held, counters } = tracker.status();
  $("#status").textContent = `Queued ${queued}, held ${held}; accepted ${counters.accepted}, ` +
    `discarded by server ${counters.discarded}, dropped locally ${counters.dropped}; ` +
    `batches sent ${counters.attempts}.`;
  $("#flag").textContent = tracker.isDropping
    ? "Cached flag: opted out. Events are dropped here and never sent."
    : "Cached flag: not opted out. Events are queued and sent.";
  $("#flag").dataset.dropping = String(tracker.isDropping);
}

async function main() {
  const sdk = await loadPackage();
  const endpoint = new URLSearchParams(location.search).get("endpoint") || location.origin;
  const tracker = sdk.Tracker.create({
    endpoint,
    appName: APP,
    batchSize: 10,
    batchIntervalMs: 2000,
    onTokenExpired: () => problem("Your session token expired: sign in again to send the kept events."),
  });

  const render = () => {
    renderDebugger(tracker);
    renderStatus(tracker);
  };
  $("#signed-in").textContent = localStorage.getItem(WHO) || "nobody";

  $("#sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    problem("");
    const user = $("#user").value;
    try {
      const token = await fetchToken(user);
      tracker.login(token);
      localStorage.setItem(WHO, user);
      // The flag changes with the login: shown at once, not at the next tick.
      renderStatus(tracker);
      $("#signed-in").textContent = user;
      // The flag line changes with the login, not a timer tick later.
      render();
    } catch (error) {
      problem(`Sign-in failed: ${error.message}${error.code ? ` (${error.code})` : ""}`);
    }
  });

  $("#logout").addEventListener("click", () => {
    tracker.logout();
    localStorage.removeItem(WHO);
    renderStatus(tracker);
    $("#signed-in").textContent = "nobody";
    render();
  });

  for (const button of document.querySelectorAll("button[data-event]")) {
    button.addEventListener("click", () => {
      const props = button.dataset.props ? JSON.parse(button.dataset.props) : undefined;
      tracker.track(button.dataset.event, props);
    });
  }

  $("#flush").addEventListener("click", async () => {
    $("#flush").disabled = true;
    try {
      await tracker.flush(5000);
    } finally {
      $("#flush").disabled = false;
    }
  });

  render();
  setInterval(render, 250);
  document.body.dataset.ready = "true";
}

main();
