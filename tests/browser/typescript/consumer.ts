// A web app's use of the package, as its authors would write it: every
// member of `Tracker` and every exported type. Lines marked
// `@ts-expect-error` are mistakes the types must catch; tsc fails if one
// of them type-checks.
import init, {
  Tracker,
  type Claims,
  type DebugEntry,
  type DropReason,
  type Status,
  type TrackerOptions,
  type TrackResult,
} from "usage-sdk";

await init();

const options: TrackerOptions = {
  endpoint: "https://usage.example.com",
  appName: "reports-web",
  batchSize: 50,
  batchIntervalMs: 5_000,
  maxQueuedEvents: 10_000,
  maxHeldEvents: 1_000,
  retryBaseMs: 1_000,
  retryCapMs: 300_000,
  requestTimeoutMs: 30_000,
  debugCapacity: 200,
  doNotTrack: false,
  onTokenExpired: () => console.log("log in again"),
  onAuthError: (code: string) => console.warn(code),
};
// @ts-expect-error: the endpoint is required
const noEndpoint: TrackerOptions = { appName: "x" };
// @ts-expect-error: batch sizes are numbers
const textSize: TrackerOptions = { endpoint: "e", batchSize: "50" };
void noEndpoint;
void textSize;

const tracker: Tracker = Tracker.create(options);
const other = new Tracker({ endpoint: "https://usage.example.com" });

const claims: Claims = tracker.login("v1.k1.payload.tag");
const optedOut: boolean = claims.optOut;
const expires: number = claims.exp;
// @ts-expect-error: claims use camelCase names
void claims.opt_out;

function describe(result: TrackResult): string {
  switch (result.outcome) {
    case "queued":
    case "held":
      return result.id;
    case "dropped": {
      const reason: DropReason = result.reason;
      return reason;
    }
    case "invalid":
      return result.code;
  }
}
describe(tracker.track("report.opened", { report: "sales", rows: 120 }));
describe(tracker.track("app.started"));
describe(tracker.track("app.started", null));
// @ts-expect-error: an event needs a name
tracker.track();

const delivered: Promise<boolean> = tracker.flush(2_000);
const defaultWait: Promise<boolean> = tracker.flush();
const entries: DebugEntry[] = tracker.debugEvents();
for (const entry of entries) {
  const line: string = `${entry.seq} ${entry.name} ${entry.fate} ${entry.text}`;
  const id: string | null = entry.id;
  void line;
  void id;
}
const status: Status = tracker.status();
const backlog: number = status.queued + status.held + status.unprocessed + status.counters.attempts;
const dropping: boolean = tracker.isDropping;
// @ts-expect-error: isDropping is read-only
tracker.isDropping = true;

tracker.onTokenExpired(() => undefined);
tracker.onTokenExpired(null);
tracker.onAuthError((code) => console.warn(code.toUpperCase()));
tracker.onAuthError(null);
// @ts-expect-error: the auth error callback gets a string
tracker.onAuthError((code: number) => code);

tracker.logout();
const stopped: boolean = await tracker.shutdown(1_000);
other.free();

void [optedOut, expires, delivered, defaultWait, backlog, dropping, stopped];
