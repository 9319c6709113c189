/**
 * One line per request, as text or JSON, on stderr (journald picks it up under systemd). What a
 * line may hold is fixed by RequestLogEntry: no headers, no bodies, no tokens; free text from the
 * upstream (its error message) goes through redact() first.
 */
import { redact } from "../lib/text.ts";

export interface RequestLogEntry {
  method: string;
  /** The path only: a query string may carry a key. */
  path: string;
  status: number;
  durationMs: number;
  model?: string;
  /** The account of the last upstream call (a name, never a credential). */
  account?: string;
  upstreamStatus?: number;
  retries: number;
  upstreamError?: string;
}

export interface Logger {
  request(entry: RequestLogEntry): void;
  info(message: string): void;
  readonly verbose: boolean;
}

type LogFormat = "text" | "json";

export function createLogger(options: {
  format: LogFormat;
  verbose: boolean;
  write(line: string): void;
  now?: () => number;
  /** Literal secrets (the server's API keys) to blank out of any free text; read at each use. */
  secrets?: readonly string[];
}): Logger {
  const now = options.now ?? Date.now;
  // Under load many lines share a millisecond: format each millisecond once.
  let stampedAt = Number.NaN;
  let stampText = "";
  const time = () => {
    const ms = now();
    if (ms !== stampedAt) {
      stampedAt = ms;
      stampText = new Date(ms).toISOString();
    }
    return stampText;
  };
  const clean = (text: string) => {
    let out = redact(text);
    for (const secret of options.secrets ?? []) {
      if (secret.length >= 4) out = out.replaceAll(secret, "[redacted]");
    }
    return out;
  };
  if (options.format === "json") {
    return {
      verbose: options.verbose,
      request(entry) {
        const record = { time: time(), ...entry };
        if (entry.upstreamError !== undefined) record.upstreamError = clean(entry.upstreamError);
        options.write(`${JSON.stringify(record)}\n`);
      },
      info(message) {
        options.write(
          `${JSON.stringify({ time: time(), message: clean(message) })}\n`,
        );
      },
    };
  }
  // Most lines name the same model and account as the one before: quote them once.
  let namesOf: [string | undefined, string | undefined] | undefined;
  let namesText = "";
  const names = (model: string | undefined, account: string | undefined) => {
    if (namesOf === undefined || namesOf[0] !== model || namesOf[1] !== account) {
      namesOf = [model, account];
      namesText = (model === undefined ? "" : ` model=${quoteIfNeeded(model)}`) +
        (account === undefined ? "" : ` account=${quoteIfNeeded(account)}`);
    }
    return namesText;
  };
  return {
    verbose: options.verbose,
    request(e) {
      let line = `${time()} ${e.method} ${e.path} ${e.status} ${Math.round(e.durationMs)}ms` +
        names(e.model, e.account);
      if (e.upstreamStatus !== undefined) line += ` upstream=${e.upstreamStatus}`;
      if (e.retries > 0) line += ` retries=${e.retries}`;
      if (e.upstreamError !== undefined) line += ` error=${JSON.stringify(clean(e.upstreamError))}`;
      options.write(`${line}\n`);
    },
    info(message) {
      options.write(`${time()} ${clean(message)}\n`);
    },
  };
}

function quoteIfNeeded(value: string): string {
  return /^[\w.:/-]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * Collects log lines and writes them in one call a few milliseconds later: under load that is
 * one write for many requests instead of a system call each. `flush()` before exiting.
 */
export function bufferedWriter(
  write: (text: string) => void,
  delayMs = 20,
): { write(line: string): void; flush(): void } {
  let pending = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending === "") return;
    const text = pending;
    pending = "";
    write(text);
  };
  return {
    write(line) {
      pending += line;
      if (pending.length > 64 * 1024) return flush();
      if (timer === undefined) {
        timer = setTimeout(flush, delayMs);
        // Waiting to write a log line is no reason to keep the process alive.
        (timer as { unref?: () => void }).unref?.();
      }
    },
    flush,
  };
}
