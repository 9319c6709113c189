/**
 * Back-off for upstream retries, which happen only before the first byte reached the client.
 * Full jitter (a random delay up to an exponentially growing cap) keeps many clients that failed
 * together from retrying together.
 */
import { parseRetryAfter } from "../lib/time.ts";

export interface RetryPolicy {
  /** Retries after the first attempt (so at most maxRetries + 1 calls). */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited for: the client gets the error at once. */
  maxRetryAfterMs: number;
  random(): number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
  random: Math.random,
};

/**
 * Milliseconds to wait before retry number `attempt` (0 for the first retry), or undefined when
 * the upstream asked for a wait longer than we hold a client for.
 */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  retryAfter: string | null,
  now: number,
): number | undefined {
  const jitter = policy.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const asked = parseRetryAfter(retryAfter, now);
  if (asked === undefined) return Math.round(jitter);
  if (asked > policy.maxRetryAfterMs) return undefined;
  // The upstream's wait is a floor; a little jitter on top still spreads the retries.
  return Math.round(asked + policy.random() * policy.baseDelayMs);
}
