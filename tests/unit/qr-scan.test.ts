/**
 * Scans what `qwen auth` draws, the way a phone would: the terminal text is turned back into
 * pixels (each cell two modules tall, coloured as a terminal of the given theme would show it)
 * and decoded with jsQR, an independent QR reader. Inversion is not allowed, so a code that
 * only scans when inverted fails.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import jsQRModule from "jsqr";
import { renderQr } from "../../src/terminal/qr.ts";

// jsqr is CommonJS with an ES-style default in its types; runtimes disagree on which one the
// default import is, so take the function wherever it is.
type Decode = typeof import("jsqr").default;
const jsQR: Decode = (jsQRModule as unknown as { default?: Decode }).default ??
  (jsQRModule as unknown as Decode);

const URL = "https://chat.qwen.ai/authorize?user_code=BF0Q6UX9&client=qwen-code";
const SCALE = 6;

type Rgb = [number, number, number];

interface Theme {
  foreground: Rgb;
  background: Rgb;
}

const DARK_THEME: Theme = { foreground: [220, 220, 220], background: [24, 24, 24] };
const LIGHT_THEME: Theme = { foreground: [30, 30, 30], background: [250, 250, 250] };

/** Paints terminal output as a terminal would: SGR 30/107 set black on bright white. */
function paint(text: string, theme: Theme) {
  const rows = text.split("\n").filter((line) => line !== "");
  const cells = rows.map((line) => {
    const explicit = line.includes("\x1b[30;107m");
    // deno-lint-ignore no-control-regex
    const glyphs = [...line.replace(/\x1b\[[0-9;]*m/g, "")];
    const fg: Rgb = explicit ? [0, 0, 0] : theme.foreground;
    const bg: Rgb = explicit ? [255, 255, 255] : theme.background;
    return glyphs.map((g) => {
      const top = g === "▀" || g === "█";
      const bottom = g === "▄" || g === "█";
      return [top ? fg : bg, bottom ? fg : bg] as const;
    });
  });
  const width = Math.max(...cells.map((r) => r.length)) * SCALE;
  const height = cells.length * 2 * SCALE;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const cellRow = cells[Math.floor(y / (2 * SCALE))];
    const half = Math.floor(y / SCALE) % 2;
    for (let x = 0; x < width; x++) {
      const cell = cellRow[Math.floor(x / SCALE)];
      const rgb = cell ? cell[half] : theme.background;
      const i = (y * width + x) * 4;
      data[i] = rgb[0];
      data[i + 1] = rgb[1];
      data[i + 2] = rgb[2];
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

function scan(text: string, theme: Theme): string | undefined {
  const { data, width, height } = paint(text, theme);
  return jsQR(data, width, height, { inversionAttempts: "dontInvert" })?.data;
}

describe("QR code as a phone reads it", () => {
  it("scans with explicit colours on a dark theme", () => {
    assert.equal(scan(renderQr(URL, { color: true }), DARK_THEME), URL);
  });

  it("scans with explicit colours on a light theme", () => {
    assert.equal(scan(renderQr(URL, { color: true }), LIGHT_THEME), URL);
  });

  it("scans without colour (NO_COLOR) on a dark theme", () => {
    assert.equal(scan(renderQr(URL, { color: false }), DARK_THEME), URL);
  });

  it("is inverted without colour on a light theme, as the README warns", () => {
    assert.equal(scan(renderQr(URL, { color: false }), LIGHT_THEME), undefined);
  });
});
