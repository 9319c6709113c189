/**
 * `qwen version`: the bare version, as `--version` prints it; `--verbose` adds where this program
 * came from, for bug reports and for telling builds apart: the commit (built in by
 * `npm run build`, else read from the checkout this runs from), the runtime and the repository.
 */
import type { Context } from "../lib/context.ts";
import { ExitCode } from "../lib/errors.ts";
import { buildInfo, type CheckoutState } from "../lib/build-info.ts";
import { REPOSITORY_URL } from "../lib/release.ts";
import { VERSION } from "../lib/version.ts";
import { runtime } from "../runtime/mod.ts";

export async function runVersion(options: { verbose: boolean }, ctx: Context): Promise<number> {
  if (!options.verbose) {
    ctx.stdout(`${VERSION}\n`);
    return ExitCode.ok;
  }
  const info = await buildInfo(import.meta.dirname ?? ".");
  const rows = [
    ["version", VERSION],
    ["commit", commitText(info.checkout, info.built)],
    ["runtime", `${runtime.name} ${runtime.version}`],
    ["repository", REPOSITORY_URL],
  ];
  ctx.stdout(rows.map(([key, value]) => `${key.padEnd(12)}${value}\n`).join(""));
  return ExitCode.ok;
}

function commitText(checkout: CheckoutState | undefined, built: boolean): string {
  if (checkout === undefined) {
    return built
      ? "none (built outside a git checkout)"
      : "none (run from source, no git checkout)";
  }
  const notes = [
    ...(built ? [] : ["run from source"]),
    ...(checkout.modified ? ["with uncommitted changes"] : []),
  ];
  return notes.length === 0 ? checkout.commit : `${checkout.commit} (${notes.join(", ")})`;
}
