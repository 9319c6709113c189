/**
 * The official Qwen Code CLI's cross-process refresh lock (docs/upstream.md#refresh-lock), so that
 * `qwen serve`, other `qwen` processes and the official CLI never refresh one file at once:
 * refresh tokens rotate, and the second refresh with the same token kills the login.
 *
 * - The lock is a file beside the credentials, created with exclusive create (`wx`), holding a
 *   random UUID.
 * - Contention: up to 20 attempts, waiting 100 ms, growing ×1.5 to a 2 s cap.
 * - A lock whose mtime is older than 10 s is stale: it is renamed aside, deleted, and the
 *   attempt is repeated at once. So is one more than 10 s in the future (a clock set back, or a
 *   file from a machine whose clock is ahead); a few seconds ahead is a live lock on a shared
 *   disk whose clock differs a little from ours.
 * - Release unlinks the file only if it still holds our UUID.
 */
import { mkdir, open, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { sleep as defaultSleep } from "../lib/context.ts";
import { ExitCode, QwenError } from "../lib/errors.ts";

const LOCK_ATTEMPTS = 20;
const LOCK_INITIAL_DELAY_MS = 100;
const LOCK_BACKOFF = 1.5;
const LOCK_MAX_DELAY_MS = 2_000;
const LOCK_STALE_MS = 10_000;
/** How far in the future a lock's mtime may be and still be live: clock skew of a shared disk. */
const LOCK_FUTURE_SKEW_MS = 10_000;

export interface LockOptions {
  /** Wall clock compared with the lock file's mtime. Default `Date.now`. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborts the wait for the lock (never a held lock's work). */
  signal?: AbortSignal;
  attempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  staleMs?: number;
}

/** Thrown when the lock stayed taken through every attempt. */
export class LockTimeoutError extends QwenError {
  constructor(readonly lockPath: string, attempts: number) {
    super(
      `Cannot take the lock "${lockPath}": another process held it through ${attempts} attempts; try again, or delete the file if no Qwen process is running`,
      { code: "lock_timeout", status: 503, exitCode: ExitCode.failure },
    );
    this.name = "LockTimeoutError";
  }
}

/** A held lock: its path and the UUID written into it. */
interface HeldLock {
  path: string;
  id: string;
}

/** Takes the lock at `lockPath`, runs `fn`, and releases the lock whatever `fn` did. */
export async function withLock<T>(
  lockPath: string,
  fn: (lock: HeldLock) => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const lock = await acquireLock(lockPath, options);
  try {
    return await fn(lock);
  } finally {
    await releaseLock(lock);
  }
}

export async function acquireLock(lockPath: string, options: LockOptions = {}): Promise<HeldLock> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const attempts = options.attempts ?? LOCK_ATTEMPTS;
  const maxDelay = options.maxDelayMs ?? LOCK_MAX_DELAY_MS;
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  const signal = options.signal;
  const id = crypto.randomUUID();
  let delay = options.initialDelayMs ?? LOCK_INITIAL_DELAY_MS;
  let madeDir = false;

  for (let attempt = 1; attempt <= attempts; attempt++) {
    signal?.throwIfAborted();
    const outcome = await tryCreate(lockPath, id);
    if (outcome === "created") return { path: lockPath, id };
    if (outcome === "no_dir" && !madeDir) {
      madeDir = true;
      await mkdir(dirname(lockPath), { recursive: true, mode: 0o700 });
      attempt--; // Not a contention: the directory did not exist yet.
      continue;
    }
    if (outcome === "no_dir") throw lockError(lockPath, "its directory cannot be created");

    // Taken. Break it when stale, else wait.
    const age = await lockAge(lockPath, now);
    if (age === undefined) continue; // Released meanwhile: retry at once.
    if (age > staleMs || age < -LOCK_FUTURE_SKEW_MS) {
      await breakStaleLock(lockPath, id);
      continue;
    }
    if (attempt < attempts) {
      await sleep(delay, signal);
      delay = Math.min(delay * LOCK_BACKOFF, maxDelay);
    }
  }
  throw new LockTimeoutError(lockPath, attempts);
}

/** Unlinks the lock only if it still holds our UUID: a lock broken as stale may be another's now. */
export async function releaseLock(lock: HeldLock): Promise<boolean> {
  let content: string;
  try {
    content = await readFile(lock.path, "utf8");
  } catch {
    return false;
  }
  if (content.trim() !== lock.id) return false;
  try {
    await unlink(lock.path);
    return true;
  } catch {
    return false;
  }
}

async function tryCreate(
  lockPath: string,
  id: string,
): Promise<"created" | "exists" | "no_dir"> {
  let handle;
  try {
    handle = await open(lockPath, "wx", 0o600);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EEXIST") return "exists";
    if (code === "ENOENT") return "no_dir";
    throw lockError(lockPath, (error as Error).message ?? String(error));
  }
  try {
    await handle.writeFile(id, "utf8");
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(lockPath, { force: true });
    throw lockError(lockPath, (error as Error).message ?? String(error));
  }
  await handle.close();
  return "created";
}

async function lockAge(lockPath: string, now: () => number): Promise<number | undefined> {
  try {
    const info = await stat(lockPath);
    return now() - info.mtimeMs;
  } catch {
    return undefined;
  }
}

/** Rename aside first, so that two processes breaking one stale lock do not both win. */
async function breakStaleLock(lockPath: string, id: string): Promise<void> {
  const aside = `${lockPath}.stale-${id}`;
  try {
    await rename(lockPath, aside);
  } catch {
    return; // Someone else broke or released it.
  }
  await rm(aside, { force: true });
}

function lockError(lockPath: string, detail: string): QwenError {
  return new QwenError(`Cannot take the lock "${lockPath}": ${detail}`, {
    code: "lock_failed",
    status: 500,
    exitCode: ExitCode.failure,
  });
}
