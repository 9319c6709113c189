/**
 * A QR code for the terminal, drawn with Unicode half blocks: each text line carries two
 * module rows (the upper half of a cell is one module, the lower half the next), so the
 * code stays square in a typical 1:2 terminal cell. A quiet zone of 4 modules surrounds it,
 * as the QR specification asks, or phone cameras struggle to find it.
 *
 * Two ways to draw, because a terminal's own colours are unknown:
 *
 * - `color: true`: every line sets explicit colours, black foreground on a bright white
 *   background, so the code is dark-on-light (as printed codes are) on any theme, dark or
 *   light. Only used where colour is allowed (see `colorAllowed`).
 * - `color: false` (NO_COLOR, or stderr is not a terminal): no escape sequences at all. The
 *   glyphs are drawn in the terminal's foreground colour over its background, so the light
 *   modules (and the quiet zone) are drawn as blocks and the dark modules are left blank.
 *   That scans on a DARK background (light text on a dark theme, the common case). On a
 *   light theme the result is inverted; most phone readers still cope, but not all.
 */
import qrcode from "qrcode-generator";

/** Modules of white space around the code, as the QR specification asks. */
export const QUIET_ZONE = 4;

/** The module matrix, however it was produced (the library, or a test's hand-made one). */
export interface ModuleMatrix {
  /** Modules per side. */
  readonly size: number;
  isDark(row: number, col: number): boolean;
}

interface QrRenderOptions {
  /** Explicit dark-on-light colours (true) or plain glyphs for dark backgrounds (false). */
  color: boolean;
}

/** Encodes `text` (byte mode, error correction L, smallest version that fits). */
export function qrMatrix(text: string): ModuleMatrix {
  // L keeps the verification URL at version 4 (33 modules): a terminal is a clean medium,
  // and a smaller code fits an 80x24 window.
  const code = qrcode(0, "L");
  code.addData(text, "Byte");
  code.make();
  const size = code.getModuleCount();
  return { size, isDark: (row, col) => code.isDark(row, col) };
}

const UPPER = "▀";
const LOWER = "▄";
const FULL = "█";
const EMPTY = " ";

/** Colours for the coloured variant: black foreground, bright white background. */
const COLOR_ON = "\x1b[30;107m";
const COLOR_OFF = "\x1b[0m";

/**
 * Renders a matrix as lines of half blocks, quiet zone included: `size + 8` columns and
 * `ceil((size + 8) / 2)` lines, each line ending with "\n".
 */
export function renderModules(matrix: ModuleMatrix, options: QrRenderOptions): string {
  const total = matrix.size + 2 * QUIET_ZONE;
  // true = dark module. The quiet zone is light.
  const dark = (row: number, col: number): boolean => {
    const r = row - QUIET_ZONE;
    const c = col - QUIET_ZONE;
    if (r < 0 || c < 0 || r >= matrix.size || c >= matrix.size) return false;
    return matrix.isDark(r, c);
  };
  // Which modules are drawn as ink (the glyph's foreground): with explicit colours the ink is
  // black, so dark modules are ink; without colours the ink is the terminal's light text
  // colour, so light modules are ink.
  const ink = (row: number, col: number): boolean => {
    // `total` is odd, so the last line has only an upper row: leave its lower half blank
    // (terminal background) without colour, and white (more quiet zone) with colour.
    if (row >= total) return false;
    return options.color ? dark(row, col) : !dark(row, col);
  };
  let out = "";
  for (let row = 0; row < total; row += 2) {
    let line = "";
    for (let col = 0; col < total; col++) {
      const top = ink(row, col);
      const bottom = ink(row + 1, col);
      line += top ? (bottom ? FULL : UPPER) : (bottom ? LOWER : EMPTY);
    }
    out += options.color ? `${COLOR_ON}${line}${COLOR_OFF}\n` : `${line}\n`;
  }
  return out;
}

/** The QR code of `text`, ready to write to a terminal. */
export function renderQr(text: string, options: QrRenderOptions): string {
  return renderModules(qrMatrix(text), options);
}
