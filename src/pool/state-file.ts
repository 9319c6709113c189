/**
 * `qwen_state.json` in QWEN_HOME (its format: docs/serve.md#state-file-qwen_statejson): per
 * account, its health (cooldown after a quota answer, or rejected by the upstream) and its usage
 * per day. Shared by every `qwen serve` and `qwen status` on the machine.
 *
 * - `health.state`: `ok`, `cooling_down` (until `until`) or `rejected` (until the credentials
 *   change: `identity` is an opaque fingerprint of the file or variable that was refused; or
 *   until a try after `retry_at` succeeds).
 *   The newest `changed_at` wins when processes disagree (`qwen status --probe` writes `ok`).
 * - `usage` days are Beijing dates (UTC+8), the day Qwen's daily quotas count; `requests` are
 *   calls sent upstream with the account (retries and failed-over attempts included). Kept 35
 *   days.
 * - Written atomically (mode 0600) under the lock `qwen_state.lock` (lock.ts) by
 *   read-merge-write: each process adds its own counts since its last write, so restarts and
 *   several processes add up. A write that fails keeps the counts for the next one, and fails
 *   with the same message each time while the cause stays (a read-only home, a full disk).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../credentials/atomic-write.ts";
import { type LockOptions, withLock } from "../credentials/lock.ts";
import { fileIdentity } from "../credentials/private-file.ts";
import { QwenError } from "../lib/errors.ts";
import { fsErrorText } from "../lib/fs-errors.ts";
import { beijingDay, nextBeijingMidnight } from "../lib/time.ts";
import { z } from "../lib/zod.ts";

export const STATE_FILE = "qwen_state.json";
const STATE_LOCK = "qwen_state.lock";
const STATE_VERSION = 1;
const KEEP_DAYS = 35;

type HealthState = "ok" | "cooling_down" | "rejected";

/** An account's health, in memory (times in ms since the epoch). */
export interface Health {
  state: HealthState;
  /** cooling_down: when it ends. */
  until?: number;
  /** `quota`, `invalid_credentials`, `arrears`, `probe_ok`, ... */
  reason?: string;
  /** The upstream's message (redacted, clipped). */
  message?: string;
  /**
   * The back-off's count: quota answers in a row without a known window, or the refusals of a
   * rejected account (the first, then each failed try). It doubles with each.
   */
  strikes?: number;
  /** rejected: when one request may try the account again. */
  retryAt?: number;
  /** rejected: the identity of the credentials that were refused. */
  identity?: string;
  changedAt: number;
}

interface DayUsage {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  errors: Record<string, number>;
}

interface AccountRecord {
  health?: Health;
  usage: Record<string, DayUsage>;
}

export interface StateSnapshot {
  accounts: Record<string, AccountRecord>;
}

const isoTime = z.string().check(
  z.refine((s) => !Number.isNaN(Date.parse(s)), "expected an ISO time"),
);
const count = z.catch(z.number().check(z.int(), z.nonnegative()), 0);

const healthSchema = z.looseObject({
  state: z.enum(["ok", "cooling_down", "rejected"]),
  until: z.optional(isoTime),
  reason: z.optional(z.string()),
  message: z.optional(z.string()),
  strikes: z.optional(z.number().check(z.int(), z.nonnegative())),
  identity: z.optional(z.string()),
  retry_at: z.optional(z.nullable(isoTime)),
  changed_at: isoTime,
});

const dayUsageSchema = z.looseObject({
  requests: count,
  prompt_tokens: count,
  completion_tokens: count,
  errors: z.catch(z.record(z.string(), count), {}),
});

const fileSchema = z.looseObject({
  version: z.literal(STATE_VERSION),
  accounts: z.record(
    z.string(),
    z.looseObject({
      health: z.catch(z.optional(healthSchema), undefined),
      usage: z.catch(z.record(z.string(), dayUsageSchema), {}),
    }),
  ),
});

function emptyDay(): DayUsage {
  return { requests: 0, prompt_tokens: 0, completion_tokens: 0, errors: {} };
}

/** Reads the state file; a missing or unreadable one reads as empty (with the problem). */
export async function readStateFile(
  path: string,
): Promise<{ snapshot: StateSnapshot; problem?: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return { snapshot: { accounts: {} } };
    return { snapshot: { accounts: {} }, problem: (error as Error).message };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { snapshot: { accounts: {} }, problem: `"${path}" is not JSON` };
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    return {
      snapshot: { accounts: {} },
      problem: `"${path}" is not a qwen state file: ${parsed.error.issues[0]?.message}`,
    };
  }
  const accounts: Record<string, AccountRecord> = {};
  for (const [name, record] of Object.entries(parsed.data.accounts)) {
    const h = record.health;
    accounts[name] = {
      usage: record.usage as Record<string, DayUsage>,
      health: h === undefined ? undefined : {
        state: h.state,
        until: h.until === undefined ? undefined : Date.parse(h.until),
        reason: h.reason,
        message: h.message,
        strikes: h.strikes,
        identity: h.identity,
        retryAt: h.retry_at == null ? undefined : Date.parse(h.retry_at),
        changedAt: Date.parse(h.changed_at),
      },
    };
  }
  return { snapshot: { accounts } };
}

function serialize(snapshot: StateSnapshot): string {
  const accounts: Record<string, unknown> = {};
  for (const name of Object.keys(snapshot.accounts).sort()) {
    const record = snapshot.accounts[name];
    const h = record.health;
    // JSON.stringify leaves out the fields that are undefined.
    accounts[name] = {
      health: h && {
        state: h.state,
        until: h.until === undefined ? undefined : new Date(h.until).toISOString(),
        reason: h.reason,
        message: h.message,
        strikes: h.strikes,
        identity: h.identity,
        retry_at: h.retryAt === undefined ? undefined : new Date(h.retryAt).toISOString(),
        changed_at: new Date(h.changedAt).toISOString(),
      },
      usage: record.usage,
    };
  }
  return `${JSON.stringify({ version: STATE_VERSION, accounts }, null, 2)}\n`;
}

interface StateStoreOptions {
  now?: () => number;
  lock?: Omit<LockOptions, "signal">;
}

/**
 * Counts and health changes of this process, kept in memory and added to the file by `sync()`
 * (every few seconds when something changed, and on shutdown). Counting costs no I/O.
 */
export class StateStore {
  readonly path: string;
  readonly lockPath: string;
  readonly #now: () => number;
  readonly #lock: StateStoreOptions["lock"];
  #usage = new Map<string, Map<string, DayUsage>>();
  #health = new Map<string, Health>();
  #fileIdentity?: string;
  #snapshot: StateSnapshot = { accounts: {} };
  #day = "";
  #dayEnds = 0;
  /** The last problem reading the file, for one log line. */
  problem?: string;

  constructor(home: string, options: StateStoreOptions = {}) {
    this.path = join(home, STATE_FILE);
    this.lockPath = join(home, STATE_LOCK);
    this.#now = options.now ?? Date.now;
    this.#lock = options.lock;
  }

  get dirty(): boolean {
    return this.#usage.size > 0 || this.#health.size > 0;
  }

  /** The file as last read or written. */
  get snapshot(): StateSnapshot {
    return this.#snapshot;
  }

  /** Today's counters of this process for `account` (not yet written). */
  day(account: string): DayUsage {
    const now = this.#now();
    if (now >= this.#dayEnds) {
      this.#day = beijingDay(now);
      this.#dayEnds = nextBeijingMidnight(now);
    }
    return this.#dayOf(account, this.#day);
  }

  /** Records a health change to write (the newest `changedAt` wins in the file). */
  setHealth(account: string, health: Health): void {
    this.#health.set(account, { ...health });
  }

  /**
   * Adds this process's counts and health changes to the file under the lock, and returns what
   * the file holds now. Without changes the file is only read, and only when it changed.
   */
  async sync(): Promise<StateSnapshot> {
    if (!this.dirty) {
      const identity = await fileIdentity(this.path);
      if (identity === this.#fileIdentity) return this.#snapshot;
      const read = await readStateFile(this.path);
      this.problem = read.problem;
      this.#snapshot = read.snapshot;
      this.#fileIdentity = identity;
      return this.#snapshot;
    }
    const usage = this.#usage;
    const health = this.#health;
    this.#usage = new Map();
    this.#health = new Map();
    try {
      await withLock(this.lockPath, async () => {
        const read = await readStateFile(this.path);
        this.problem = read.problem;
        const snapshot = read.snapshot;
        mergeInto(snapshot, usage, health, this.#now());
        await writeFileAtomic(this.path, serialize(snapshot));
        this.#snapshot = snapshot;
        this.#fileIdentity = await fileIdentity(this.path);
      }, { ...this.#lock });
    } catch (error) {
      // Kept for the next attempt: nothing counted is lost to a busy lock or a full disk.
      for (const [account, days] of usage) {
        for (const [day, delta] of days) addDay(this.#dayOf(account, day), delta);
      }
      for (const [account, h] of health) {
        const newer = this.#health.get(account);
        if (newer === undefined || newer.changedAt < h.changedAt) this.#health.set(account, h);
      }
      // The lock's own errors are worded already; a file system error names a temporary file.
      if (error instanceof QwenError) throw error;
      throw new QwenError(`Cannot write "${this.path}": ${fsErrorText(error)}`);
    }
    return this.#snapshot;
  }

  #dayOf(account: string, day: string): DayUsage {
    let days = this.#usage.get(account);
    if (days === undefined) this.#usage.set(account, days = new Map());
    let usage = days.get(day);
    if (usage === undefined) days.set(day, usage = emptyDay());
    return usage;
  }
}

function mergeInto(
  snapshot: StateSnapshot,
  usage: Map<string, Map<string, DayUsage>>,
  health: Map<string, Health>,
  now: number,
): void {
  const record = (name: string): AccountRecord => snapshot.accounts[name] ??= { usage: {} };
  for (const [name, days] of usage) {
    const r = record(name);
    for (const [day, delta] of days) addDay(r.usage[day] ??= emptyDay(), delta);
  }
  for (const [name, h] of health) {
    const r = record(name);
    if (r.health === undefined || r.health.changedAt <= h.changedAt) r.health = h;
  }
  const oldest = beijingDay(now - KEEP_DAYS * 86_400_000);
  for (const r of Object.values(snapshot.accounts)) {
    for (const day of Object.keys(r.usage)) if (day < oldest) delete r.usage[day];
  }
}

function addDay(into: DayUsage, delta: DayUsage): void {
  into.requests += delta.requests;
  into.prompt_tokens += delta.prompt_tokens;
  into.completion_tokens += delta.completion_tokens;
  for (const [name, n] of Object.entries(delta.errors)) {
    into.errors[name] = (into.errors[name] ?? 0) + n;
  }
}
