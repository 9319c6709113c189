/**
 * Picks the adapter for the runtime we run on. Both adapters are imported statically so that
 * `bun build --compile` and `deno compile` bundle both; only the matching one is ever called.
 */
import { bunRuntime } from "./bun.ts";
import { denoRuntime } from "./deno.ts";
import type { Runtime } from "./types.ts";

export type {
  Executable,
  Handler,
  RequestInfo,
  RunOptions,
  RunResult,
  Runtime,
  ServeOptions,
  Server,
} from "./types.ts";
export { AddressInUseError } from "./types.ts";

export const runtime: Runtime = "Deno" in globalThis ? denoRuntime : bunRuntime;
