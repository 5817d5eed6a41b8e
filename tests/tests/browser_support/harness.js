// The tracker's options come from the query string (`?options={...}`), so
// each test sets batch sizes and intervals of its own.
import init, { Tracker } from "./pkg/usage_sdk.js";

// Counts the batches this page sends, for tests that need "sent nothing".
// With `window.stallBatches` set, batches never get an answer, as when the
// page goes away in the middle of a send.
const sent = { batches: 0 };
const fetchOfTheBrowser = globalThis.fetch;
globalThis.fetch = (request, ...rest) => {
  if (String(request.url ?? request).includes("/v1/batch")) {
    sent.batches += 1;
    if (window.stallBatches) {
      return new Promise(() => {});
    }
  }
  return fetchOfTheBrowser(request, ...rest);
};

await init();
const given = JSON.parse(new URLSearchParams(location.search).get("options") ?? "{}");
window.sent = sent;
window.authErrors = [];
window.tracker = Tracker.create({
  endpoint: location.origin,
  appName: "browser-tests",
  onAuthError: (code) => window.authErrors.push(code),
  ...given,
});
document.body.dataset.ready = "true";
