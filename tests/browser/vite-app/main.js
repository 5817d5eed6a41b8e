// Tracks one event for the user whose status token is in the URL fragment
// (`#token=...`), sends it to the collector this page is served by, and
// shows what became of it.
import init, { Tracker } from "usage-sdk";

const result = document.querySelector("#result");
try {
  await init();
  const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
  const tracker = Tracker.create({ endpoint: location.origin, appName: "vite-app" });
  tracker.login(token);
  const tracked = tracker.track("vite.app.opened", { bundler: "vite" });
  const delivered = await tracker.flush(5_000);
  const fate = tracker.debugEvents().find((entry) => entry.id === tracked.id)?.fate;
  result.textContent = `${tracked.outcome} ${fate} ${delivered}`;
} catch (error) {
  result.textContent = `failed: ${error}`;
}
document.body.dataset.done = "true";
