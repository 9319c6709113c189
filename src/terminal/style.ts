/**
 * Tiny ANSI colour helpers for what commands write to stderr. Colour is used only when
 * `colorAllowed(ctx)` says so (stderr is a terminal and NO_COLOR is not set); otherwise every
 * helper returns its text unchanged, so messages read the same in logs and pipes.
 */
import { colorAllowed, type Context } from "../lib/context.ts";

type Paint = (text: string) => string;

export interface Style {
  /** Whether the helpers add escape sequences at all. */
  readonly enabled: boolean;
  bold: Paint;
  dim: Paint;
  red: Paint;
  green: Paint;
  yellow: Paint;
  cyan: Paint;
}

function sgr(open: number, close: number): Paint {
  return (text) => `\x1b[${open}m${text}\x1b[${close}m`;
}

const plain: Paint = (text) => text;

function createStyle(enabled: boolean): Style {
  if (!enabled) {
    return {
      enabled,
      bold: plain,
      dim: plain,
      red: plain,
      green: plain,
      yellow: plain,
      cyan: plain,
    };
  }
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
  };
}

/** The style for text written to stderr under this context. */
export function styleFor(ctx: Pick<Context, "env" | "stderrIsTTY">): Style {
  return createStyle(colorAllowed(ctx));
}
