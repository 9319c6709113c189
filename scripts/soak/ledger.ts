/**
 * What the soak did to the service, and when: every fault answer the fakes gave to an account,
 * the account-wide fault windows, the servers' downtimes and the full disk. A failure a client
 * saw is expected only when something in here explains it (scripts/soak/classify.ts).
 */

/** Why an account may be out of service for a while. */
export type OutReason = "throttle" | "quota" | "server" | "auth";

/** A fault that lasts a while on one account: every chat call it gets is answered with it. */
export type WindowKind = OutReason;

export interface Interval {
  from: number;
  to: number;
}

interface Out extends Interval {
  reason: OutReason;
}

interface FaultWindow extends Interval {
  account: string;
  kind: WindowKind;
}

/**
 * How long an account may stay out after one fault answer, beyond what the answer asked for:
 * the pool's 2 s re-listing and state-file sync, and a little scheduling slack.
 */
const SLACK_MS = 4_000;

/**
 * A rejected account is tried again after 30 s (issue 17, item 2); with the slack, an account
 * refused at `t` may be out until `t + 30 s + slack`.
 */
export const REJECTION_RETRY_MS = 30_000;

/** Entries older than this are dropped: no request lasts that long. */
const KEEP_MS = 180_000;

export class Ledger {
  readonly #out = new Map<string, Out[]>();
  readonly #windows: FaultWindow[] = [];
  readonly #downtimes = new Map<string, Interval[]>();
  readonly diskFull: Interval[] = [];
  /** Fault answers given, by kind (for the report). */
  readonly injected = new Map<string, number>();
  #prunedAt = 0;

  constructor(readonly accounts: readonly string[], readonly now: () => number = Date.now) {}

  /** The fakes answered `account` with a fault: it may be out for `holdMs` (plus slack). */
  answered(account: string, reason: OutReason, label: string, holdMs: number): void {
    const at = this.now();
    const list = this.#out.get(account) ?? [];
    list.push({ from: at, to: at + holdMs + SLACK_MS, reason });
    this.#out.set(account, list);
    this.count(label);
    this.#prune(at);
  }

  count(label: string, n = 1): void {
    this.injected.set(label, (this.injected.get(label) ?? 0) + n);
  }

  openWindow(account: string, kind: WindowKind, ms: number): void {
    const at = this.now();
    this.#windows.push({ account, kind, from: at, to: at + ms });
    this.count(`window: ${kind}`);
  }

  /** The fault window open on `account` now, if any. */
  windowOn(account: string): FaultWindow | undefined {
    const at = this.now();
    // The latest opened wins when two overlap.
    for (let i = this.#windows.length - 1; i >= 0; i--) {
      const w = this.#windows[i];
      if (w.account === account && w.from <= at && at < w.to) return w;
    }
    return undefined;
  }

  /** The reasons `account` may have been out at some moment of [from, to]. */
  outDuring(account: string, from: number, to: number): OutReason[] {
    const reasons = new Set<OutReason>();
    for (const o of this.#out.get(account) ?? []) {
      if (o.from <= to && from <= o.to) reasons.add(o.reason);
    }
    return [...reasons];
  }

  serverDown(slot: string, from: number): void {
    const list = this.#downtimes.get(slot) ?? [];
    list.push({ from, to: Infinity });
    this.#downtimes.set(slot, list);
  }

  serverUp(slot: string, at: number): void {
    const last = this.#downtimes.get(slot)?.at(-1);
    if (last && last.to === Infinity) last.to = at;
  }

  /** Whether `slot` was down (killed, not yet restarted) at some moment of [from, to]. */
  wasDown(slot: string, from: number, to: number): boolean {
    return (this.#downtimes.get(slot) ?? []).some((d) => d.from <= to && from <= d.to);
  }

  isDown(slot: string): boolean {
    return this.#downtimes.get(slot)?.at(-1)?.to === Infinity;
  }

  diskWasFull(from: number, to: number): boolean {
    return this.diskFull.some((d) => d.from <= to && from <= d.to);
  }

  #prune(at: number): void {
    if (at - this.#prunedAt < 10_000) return;
    this.#prunedAt = at;
    const old = at - KEEP_MS;
    for (const [account, list] of this.#out) {
      this.#out.set(account, list.filter((o) => o.to >= old));
    }
    const windows = this.#windows.filter((w) => w.to >= old);
    this.#windows.splice(0, this.#windows.length, ...windows);
  }
}
