#!/usr/bin/env -S deno run -A
/** The only place that touches the real process: argv in, exit code out. */
import process from "node:process";
import { runCli } from "./cli/run.ts";
import { processContext } from "./cli/context.ts";
import { runtime } from "./runtime/mod.ts";

const controller = new AbortController();
let interrupted = false;
const onInterrupt = () => {
  // A second Ctrl+C leaves at once, whatever the command is doing.
  if (interrupted) runtime.exit(130);
  interrupted = true;
  controller.abort(new DOMException("Cancelled", "AbortError"));
};
process.on("SIGINT", onInterrupt);

// No top-level await: `bun build --compile --bytecode` (faster start-up) refuses it.
const isTerminal = (fd: 0 | 2) => runtime.isTerminal(fd);
runCli(runtime.args(), processContext(controller.signal, isTerminal)).then((code) => {
  process.off("SIGINT", onInterrupt);
  runtime.exit(code);
});
