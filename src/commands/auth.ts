import type { Command } from "../cli.ts";
import { ExitCode } from "../errors.ts";

export const authCommand: Command = {
  summary: "auth",
  run(_argv, ctx) {
    ctx.stderr("qwen auth is not built yet.\n");
    return Promise.resolve(ExitCode.failure);
  },
};
