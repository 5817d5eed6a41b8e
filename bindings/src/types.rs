//! TypeScript types of the values that cross into and out of JavaScript, so
//! the generated `.d.ts` says more than `any`.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Options of `Tracker.create`; only `endpoint` is required. */
export interface TrackerOptions {
  /** The collector's base URL; batches go to `POST {endpoint}/v1/batch`. */
  endpoint: string;
  /** Names the app; its state lives under `usage-sdk/<appName>/` in localStorage. Default `default`. */
  appName?: string;
  /** Events that trigger a send, and the most per batch (1 to 500). Default 50. */
  batchSize?: number;
  /** Longest wait of a tracked event before it is sent, in ms. Default 5000. */
  batchIntervalMs?: number;
  /** Most unsent events kept; the oldest are dropped beyond it. Default 10000. */
  maxQueuedEvents?: number;
  /** Most events held while no one is logged in. Default 1000. */
  maxHeldEvents?: number;
  /** First retry delay and longest retry delay, in ms. Default 1000 and 300000. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** Longest wait for the collector's answer to one batch, in ms. Default 30000. */
  requestTimeoutMs?: number;
  /** How many recent events `debugEvents()` remembers. Default 200. */
  debugCapacity?: number;
  /**
   * `true`: drop every event and store nothing. `false`: track even when the
   * browser asks not to. Unset (the default): the browser decides, and
   * `navigator.doNotTrack === "1"` or Global Privacy Control
   * (`navigator.globalPrivacyControl === true`) turn tracking off.
   */
  doNotTrack?: boolean;
  /** Called when the collector says the token expired; log in again and the kept events go. */
  onTokenExpired?: () => void;
  /** Called with the code when the collector refuses the token otherwise. */
  onAuthError?: (code: string) => void;
}

/** What the status token says, read without a key. */
export interface Claims {
  org: string;
  sub: string;
  optOut: boolean;
  rev: number;
  iat: number;
  exp: number;
}

/** What `track()` did with an event. */
export type TrackResult =
  | { outcome: "queued" | "held"; id: string }
  | { outcome: "dropped"; reason: DropReason }
  | { outcome: "invalid"; code: string };

export type DropReason = "opted_out" | "do_not_track" | "queue_full" | "no_session" | "shut_down";

/** One event in the debugger log and its fate; `text` says it in words. */
export interface DebugEntry {
  seq: number;
  id: string | null;
  name: string;
  fate: "held" | "queued" | "sent" | "awaiting_login" | "accepted" | "discarded"
      | "rejected" | "invalid" | "refused" | "dropped";
  /** `dropped`: why. */
  reason?: DropReason;
  /** `sent`: which attempt, from 1. */
  attempt?: number;
  /** `awaiting_login`, `rejected`, `invalid`, `refused`: the code. */
  code?: string | null;
  /** `refused`: the HTTP status. */
  status?: number;
  /** Such as "accepted", "discarded by server: opted out", "dropped locally: opted out". */
  text: string;
}

/** How delivery stands. */
export interface Status {
  queued: number;
  held: number;
  unprocessed: number;
  counters: { accepted: number; discarded: number; dropped: number; refused: number; attempts: number };
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `TrackerOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "TrackerOptions")]
    pub type JsTrackerOptions;
    /// `Claims` in TypeScript.
    #[wasm_bindgen(typescript_type = "Claims")]
    pub type JsClaims;
    /// `TrackResult` in TypeScript.
    #[wasm_bindgen(typescript_type = "TrackResult")]
    pub type JsTrackResult;
    /// `DebugEntry[]` in TypeScript.
    #[wasm_bindgen(typescript_type = "DebugEntry[]")]
    pub type JsDebugEntries;
    /// `Status` in TypeScript.
    #[wasm_bindgen(typescript_type = "Status")]
    pub type JsStatus;
    /// `Promise<boolean>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<boolean>")]
    pub type JsPromiseBool;
}
