import type { Command } from "../cli.ts";
import { ExitCode } from "../errors.ts";

export const statusCommand: Command = {
  summary: "status",
  run(_argv, ctx) {
    ctx.stderr("qwen status is not built yet.\n");
    return Promise.resolve(ExitCode.failure);
  },
};
