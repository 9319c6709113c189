/**
 * `qwen auth`: log in to Qwen with the OAuth device flow and save the credentials exactly as
 * the official Qwen Code CLI does, so both tools share one file.
 *
 * With `--provider` it stores an API key instead (auth/api-key.ts); `--logout` removes an
 * account of either kind (auth/logout.ts). Everything it says goes to stderr; stdout stays
 * empty so scripts can call it.
 */
import type { Context } from "../lib/context.ts";
import { CancelledError } from "../lib/errors.ts";
import { storeApiKey } from "./auth/api-key.ts";
import { logout } from "./auth/logout.ts";
import { oauthLogin } from "./auth/oauth-login.ts";
import type { AuthDeps, AuthOptions } from "./auth/options.ts";

/** `qwen auth` without the flag parsing: returns the exit code, throws QwenErrors. */
export async function runAuth(
  options: AuthOptions,
  ctx: Context,
  deps: AuthDeps = {},
): Promise<number> {
  try {
    if (options.logout) return await logout(options.account, ctx);
    if (options.provider !== undefined) return await storeApiKey(options, ctx, deps);
    return await oauthLogin(options, ctx, deps);
  } catch (error) {
    if (ctx.signal.aborted && !(error instanceof CancelledError)) {
      throw new CancelledError("Login cancelled");
    }
    throw error;
  }
}
