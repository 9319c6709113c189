/**
 * Why a call has no upstream answer to relay, in words no API dialect owns: each route turns a
 * `CallFailure` into its own error shape (server/responses.ts for OpenAI's).
 */
import { QwenError } from "../lib/errors.ts";
import type { Verdict } from "../pool/pool.ts";
import type { UpstreamError } from "./classify.ts";

export class CallFailure {
  constructor(
    readonly status: number,
    /** A stable machine-readable code: ours (`no_credentials`) or the upstream's. */
    readonly code: string | null,
    /** For a person: what happened and what to do. Never holds a credential. */
    readonly message: string,
    /** Seconds (or an HTTP date) before trying again, when known. */
    readonly retryAfter: string | null = null,
    /** The upstream's answer, when there was one. */
    readonly upstream?: UpstreamError,
  ) {}
}

/** The upstream's own error, passed on. */
export function upstreamFailure(error: UpstreamError, retryAfter: string | null): CallFailure {
  return new CallFailure(error.status, error.code, error.message, retryAfter, error);
}

/** Nobody in the pool can take the call. */
export function unavailableFailure(verdict: Verdict, now: number): CallFailure {
  switch (verdict.kind) {
    case "no_accounts":
      return new CallFailure(
        401,
        "no_credentials",
        'No Qwen credentials on this machine: run "qwen auth" to log in, or ' +
          '"qwen auth --provider PRESET" to store an API key',
      );
    case "cooling":
      return new CallFailure(
        429,
        "all_accounts_cooling_down",
        "Every account is cooling down after a quota answer or was refused; the first one is " +
          `back at ${new Date(verdict.until).toISOString()}: see "qwen status"`,
        String(Math.max(1, Math.ceil((verdict.until - now) / 1000))),
      );
    case "unusable":
      return new CallFailure(
        401,
        "no_usable_account",
        `No account can serve this request: ${verdict.reasons.join("; ")}. Log in again, ` +
          'store a new key, or run "qwen status --probe"',
      );
  }
}

/**
 * The token sources' failures in words for an HTTP client. Their own messages name the files of
 * the home folder (the credentials file, its lock), which a client of the server has no business
 * knowing; `qwen status` on the server says the rest.
 */
const TOKEN_ERROR_MESSAGES: Record<string, string> = {
  no_credentials: 'No Qwen credentials on this machine: run "qwen auth" to log in',
  needs_login: 'The Qwen login is no longer valid: run "qwen auth" to log in again',
  invalid_credentials: 'The Qwen credentials file cannot be used: run "qwen status" for details',
  credentials_write_failed:
    "The refreshed Qwen credentials could not be saved; the next request uses them",
  lock_timeout: "Another process held the refresh lock of the Qwen credentials: try again",
  lock_failed:
    'Cannot take the refresh lock of the Qwen credentials: run "qwen status" for details',
};

/** A quoted absolute path (`"/home/me/.qwen/x.json"`, `"C:\\Users\\..."`) in a message. */
const QUOTED_PATH = /"(?:\/|[A-Za-z]:\\|\\\\)[^"]*"/g;

/**
 * Why an account has no token, for an HTTP client: fixed words for the token sources' own
 * failures, and any other message (a refresh that failed on the network) with no file path.
 */
export function tokenProblem(error: unknown): string {
  if (!(error instanceof QwenError)) return "Cannot get a token for the upstream";
  return TOKEN_ERROR_MESSAGES[error.code] ?? error.message.replace(QUOTED_PATH, "a file");
}

/** A token that cannot be had: the token source's QwenError, with wording for clients. */
export function tokenFailure(error: unknown): CallFailure {
  if (!(error instanceof QwenError)) {
    return new CallFailure(500, "token_error", "Cannot get a token for the upstream");
  }
  return new CallFailure(error.status, error.code, tokenProblem(error));
}
