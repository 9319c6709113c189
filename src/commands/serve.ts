import type { Command } from "../cli.ts";
import { ExitCode } from "../errors.ts";

export const serveCommand: Command = {
  summary: "Run the OpenAI-compatible proxy",
  run(_argv, ctx) {
    ctx.stderr("qwen serve is not built yet.\n");
    return Promise.resolve(ExitCode.failure);
  },
};
