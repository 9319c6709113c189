/** Polling for effects on the far side of a socket or a process, where nothing can be awaited. */

export interface WaitForOptions {
  /** Gives up after this long (default 5 s). */
  timeoutMs?: number;
  /** Between checks (default 10 ms). */
  intervalMs?: number;
  /** What is awaited, for the failure message (default: the check's source). */
  what?: string;
}

/** Resolves once `check` (sync or async) holds; fails saying what it waited for. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 5_000, intervalMs = 10, what }: WaitForOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() >= deadline) {
      const awaited = what ?? String(check).replace(/\s+/g, " ").slice(0, 200);
      throw new Error(`waitFor: not met within ${timeoutMs} ms: ${awaited}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
