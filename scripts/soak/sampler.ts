/**
 * Reads QWEN_HOME's files while everything runs: every credentials and key file every 250 ms
 * (each must always be there and parse: writers replace files atomically), and the state file
 * every second (it must parse once it exists; and an account it shows rejected or cooling down
 * must have an injected fault behind it).
 */
import { readFile } from "node:fs/promises";
import type { Ledger, OutReason } from "./ledger.ts";

export interface WatchedFile {
  path: string;
  kind: "oauth" | "key";
}

interface Problem {
  at: number;
  file: string;
  problem: string;
}

export class Sampler {
  samples = 0;
  readonly unreadable: Problem[] = [];
  stateSamples = 0;
  readonly stateUnreadable: Problem[] = [];
  /** Per account, ms shown out of service in the state file with no injected fault behind it. */
  readonly stuckMs = new Map<string, number>();
  readonly stuckSamples: string[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];
  #stateSeen = false;
  #busy = false;
  #stateBusy = false;

  constructor(
    readonly files: readonly WatchedFile[],
    readonly statePath: string,
    readonly ledger: Ledger,
    readonly startedAt: number,
  ) {}

  start(fileMs = 250, stateMs = 1_000): void {
    this.#timers.push(setInterval(() => void this.#sampleFiles(), fileMs));
    this.#timers.push(setInterval(() => void this.#sampleState(stateMs), stateMs));
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  async #sampleFiles(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await Promise.all(this.files.map(async (file) => {
        this.samples++;
        const problem = await check(file);
        if (problem) this.unreadable.push({ at: Date.now(), file: file.path, problem });
      }));
    } finally {
      this.#busy = false;
    }
  }

  async #sampleState(intervalMs: number): Promise<void> {
    if (this.#stateBusy) return;
    this.#stateBusy = true;
    try {
      let text: string;
      try {
        text = await readFile(this.statePath, "utf8");
      } catch (error) {
        if (this.#stateSeen) {
          this.stateSamples++;
          this.stateUnreadable.push({
            at: Date.now(),
            file: this.statePath,
            problem: (error as Error).message,
          });
        }
        return;
      }
      this.#stateSeen = true;
      this.stateSamples++;
      let state: {
        accounts?: Record<string, { health?: { state?: string; reason?: string; until?: string } }>;
      };
      try {
        state = JSON.parse(text);
      } catch (error) {
        this.stateUnreadable.push({
          at: Date.now(),
          file: this.statePath,
          problem: `not JSON: ${(error as Error).message}`,
        });
        return;
      }
      const now = Date.now();
      // A full disk keeps an old state file: what it says then is not news.
      if (this.ledger.diskWasFull(now - 5_000, now)) return;
      for (const [account, entry] of Object.entries(state.accounts ?? {})) {
        const health = entry.health?.state;
        const until = Date.parse(entry.health?.until ?? "");
        if (until < now) continue; // A cooldown that has ended, not yet synced.
        const needs: OutReason | undefined = health === "rejected"
          ? "auth"
          : health === "cooling_down"
          ? "quota"
          : undefined;
        if (!needs) continue;
        // The file is synced every 2 s: look a little back.
        if (this.ledger.outDuring(account, now - 3_000, now).includes(needs)) continue;
        this.stuckMs.set(account, (this.stuckMs.get(account) ?? 0) + intervalMs);
        if (this.stuckSamples.length < 40) {
          const t = ((now - this.startedAt) / 1000).toFixed(0);
          this.stuckSamples.push(
            `t=${t}s ${account} ${health} (${
              entry.health?.reason ?? "?"
            }) with no ${needs} fault in the last ${needs === "auth" ? "34" : "few"} s`,
          );
        }
      }
    } finally {
      this.#stateBusy = false;
    }
  }
}

/** What is wrong with the file now, or undefined when it reads as a whole, valid file. */
async function check(file: WatchedFile): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file.path, "utf8");
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message;
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    return `not JSON (${text.length} bytes)`;
  }
  const fields = file.kind === "oauth"
    ? ["access_token", "refresh_token", "token_type"]
    : ["api_key", "base_url", "provider"];
  for (const field of fields) {
    if (typeof json[field] !== "string" || json[field] === "") return `no "${field}"`;
  }
  if (file.kind === "oauth" && typeof json.expiry_date !== "number") return `no "expiry_date"`;
  return undefined;
}
