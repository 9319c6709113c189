import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ModuleMatrix,
  qrMatrix,
  QUIET_ZONE,
  renderModules,
  renderQr,
} from "../../src/terminal/qr.ts";

const URL = "https://chat.qwen.ai/authorize?user_code=BF0Q6UX9&client=qwen-code";
const ESC = "\x1b";
const COLOR_ON = `${ESC}[30;107m`;
const COLOR_OFF = `${ESC}[0m`;

function matrixOf(rows: string[]): ModuleMatrix {
  return { size: rows.length, isDark: (r, c) => rows[r][c] === "#" };
}

function lines(text: string): string[] {
  assert.ok(text.endsWith("\n"));
  return text.slice(0, -1).split("\n");
}

function stripColor(line: string): string {
  assert.ok(line.startsWith(COLOR_ON), "each coloured line sets its colours");
  assert.ok(line.endsWith(COLOR_OFF), "each coloured line resets its colours");
  return line.slice(COLOR_ON.length, -COLOR_OFF.length);
}

/**
 * Reads the modules back from rendered text (quiet zone included), decode-free: for each cell
 * the upper and lower halves are "ink" or not, and ink means dark with colour, light without.
 */
function readBack(text: string, color: boolean): boolean[][] {
  const glyph: Record<string, [boolean, boolean]> = {
    "█": [true, true],
    "▀": [true, false],
    "▄": [false, true],
    " ": [false, false],
  };
  const rows: boolean[][] = [];
  for (const raw of lines(text)) {
    const line = color ? stripColor(raw) : raw;
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const ch of line) {
      const halves = glyph[ch];
      assert.ok(halves, `unexpected character ${JSON.stringify(ch)}`);
      top.push(color ? halves[0] : !halves[0]);
      bottom.push(color ? halves[1] : !halves[1]);
    }
    rows.push(top, bottom);
  }
  return rows;
}

describe("renderModules (half blocks)", () => {
  it("maps a known 2x2 matrix to the four glyphs, with colours", () => {
    // Module rows 0 and 1 share text line 2 (after 4 quiet rows = 2 lines).
    const out = renderModules(matrixOf(["#.", "##"]), { color: true });
    const rows = lines(out).map(stripColor);
    assert.equal(rows.length, 5); // (2 + 8) / 2
    for (const row of rows) assert.equal([...row].length, 10);
    assert.equal(rows[0], " ".repeat(10));
    assert.equal(rows[1], " ".repeat(10));
    // Column 4: dark over dark → full block; column 5: light over dark → lower half.
    assert.equal(rows[2], "    █▄    ");
    assert.equal(rows[3], " ".repeat(10));
    assert.equal(rows[4], " ".repeat(10));
  });

  it("inverts the mapping without colour (light modules are drawn, for dark themes)", () => {
    const out = renderModules(matrixOf(["#.", "##"]), { color: false });
    assert.ok(!out.includes(ESC), "no escape sequences without colour");
    assert.deepEqual(lines(out), [
      "█".repeat(10),
      "█".repeat(10),
      "████ ▀████",
      "█".repeat(10),
      "█".repeat(10),
    ]);
  });

  it("ends an odd-sized code with a half line: upper halves only", () => {
    const one = matrixOf(["#"]);
    const plain = lines(renderModules(one, { color: false }));
    assert.equal(plain.length, 5); // ceil((1 + 8) / 2)
    assert.equal(plain[2], "████▄████"); // the dark module is the upper half: left blank
    assert.equal(plain[4], "▀".repeat(9)); // last quiet row, nothing below it
    const colored = lines(renderModules(one, { color: true })).map(stripColor);
    assert.equal(colored[2], "    ▀    ");
    assert.equal(colored[4], " ".repeat(9)); // white background all the way down
  });
});

describe("renderQr", () => {
  const matrix = qrMatrix(URL);
  const total = matrix.size + 2 * QUIET_ZONE;

  it("encodes the verification URL in a small version", () => {
    // Version 4 (33 modules) at error correction L fits the ~70-byte URL.
    assert.equal(matrix.size, 33);
  });

  for (const color of [true, false]) {
    const name = color ? "with colour" : "without colour";

    it(`has (modules + 8) columns and ceil((modules + 8) / 2) lines, ${name}`, () => {
      const rendered = lines(renderQr(URL, { color }));
      assert.equal(rendered.length, Math.ceil(total / 2));
      for (const line of rendered) {
        assert.equal([...(color ? stripColor(line) : line)].length, total);
      }
    });

    it(`keeps a light quiet zone of ${QUIET_ZONE} modules on every side, ${name}`, () => {
      const modules = readBack(renderQr(URL, { color }), color);
      for (let r = 0; r < total; r++) {
        for (let c = 0; c < total; c++) {
          const inZone = r < QUIET_ZONE || c < QUIET_ZONE || r >= total - QUIET_ZONE ||
            c >= total - QUIET_ZONE;
          if (inZone) assert.equal(modules[r][c], false, `module ${r},${c} must be light`);
        }
      }
    });

    it(`draws exactly the modules of the library's matrix, ${name}`, () => {
      const modules = readBack(renderQr(URL, { color }), color);
      for (let r = 0; r < matrix.size; r++) {
        for (let c = 0; c < matrix.size; c++) {
          assert.equal(
            modules[r + QUIET_ZONE][c + QUIET_ZONE],
            matrix.isDark(r, c),
            `module ${r},${c}`,
          );
        }
      }
    });
  }

  it("shows the finder pattern's corner dark-on-light with colour, inverted without", () => {
    // Quiet rows 0–3 are lines 0–1; module row 0 is the upper half of line 2.
    const colored = stripColor(lines(renderQr(URL, { color: true }))[2]);
    const plain = lines(renderQr(URL, { color: false }))[2];
    // The finder's top-left: module rows 0 (dark) and 1 (dark at column 0).
    assert.equal([...colored][QUIET_ZONE], "█");
    assert.equal([...plain][QUIET_ZONE], " ");
    // The quiet zone left of it.
    assert.equal([...colored][0], " ");
    assert.equal([...plain][0], "█");
  });
});
