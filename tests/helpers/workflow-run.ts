/**
 * Runs a GitHub Actions job of ours on this machine, far enough to see what it would do: its
 * `run:` steps in bash, in a folder laid out as a checkout, with the artifact actions played
 * by folders and any other action refused (so a new step cannot go untested unnoticed).
 * Expressions are refused in `run:` (our workflows pass values through `env:`); in `env:` and
 * `with:` only `${{ matrix.X }}` and `${{ github.token }}` are understood.
 */
import { spawnSync } from "node:child_process";
import { chmod, copyFile, mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import assert from "node:assert/strict";

export interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string | boolean | number>;
}

export interface Job {
  "runs-on": string;
  needs?: string | string[];
  if?: string;
  env?: Record<string, string>;
  steps: Step[];
  strategy?: { matrix: { include?: Record<string, string>[]; [key: string]: unknown } };
}

/** Artifacts by name: the files each holds, by their name in it (flat, as ours are). */
export type Artifacts = Map<string, Map<string, string>>;

export interface JobRun {
  /** The checkout the job runs in. */
  dir: string;
  job: Job;
  artifacts: Artifacts;
  matrix?: Record<string, string>;
  /** Variables of the runner (GITHUB_REF_NAME, PATH with fakes first, ...). */
  env: Record<string, string>;
  /**
   * Plays a `run:` step instead of running it: true when it did, "failed" when it did and the
   * step fails (the job goes on with the steps that run after a failure), false to run it.
   */
  instead?: (step: Step, env: Record<string, string>) => Promise<boolean | "failed">;
}

/**
 * Runs the steps as a Linux runner would; a real step that fails fails the test, one played as
 * failed by `instead` skips what GitHub would skip. Returns whether the job failed.
 */
export async function runJob(run: JobRun): Promise<boolean> {
  const { dir, job, artifacts, matrix = {} } = run;
  const jobEnv = expand(job.env ?? {}, matrix);
  let failed = false;
  for (const step of job.steps) {
    if (!stepRuns(step.if, failed)) continue;
    const env = { ...run.env, ...jobEnv, ...expand(step.env ?? {}, matrix) };
    if (step.uses !== undefined) {
      await action(step, dir, artifacts, matrix);
      continue;
    }
    assert.ok(step.run, `a step with neither uses nor run: ${JSON.stringify(step)}`);
    assert.doesNotMatch(step.run, /\$\{\{/, `an expression in a run step: ${step.run}`);
    const played = await run.instead?.(step, env);
    if (played === "failed") failed = true;
    if (played) continue;
    const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run], {
      cwd: dir,
      env,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `step "${step.name ?? step.run}" failed: ${r.stdout}${r.stderr}`);
  }
  return failed;
}

/** The conditions our steps use, as they come out on a Linux runner. */
function stepRuns(condition: string | undefined, failed: boolean): boolean {
  switch (condition?.trim()) {
    case undefined:
      return !failed; // success() is the default
    case "always()":
      return true;
    case "runner.os == 'macOS'":
      return false;
    default:
      throw new Error(`The emulator does not know the condition "${condition}"`);
  }
}

async function action(
  step: Step,
  dir: string,
  artifacts: Artifacts,
  matrix: Record<string, string>,
): Promise<void> {
  const name = step.uses!.replace(/@.*/, "");
  const inputs = expand(
    Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, String(v)])),
    matrix,
  );
  switch (name) {
    case "actions/checkout":
    case "actions/setup-node":
      return; // the folder is the checkout; node is here
    case "actions/upload-artifact": {
      const files = await matchPaths(dir, inputs.path);
      if (files.size === 0) {
        assert.notEqual(
          inputs["if-no-files-found"],
          "error",
          `nothing to upload for ${inputs.name}`,
        );
        return;
      }
      assert.ok(!artifacts.has(inputs.name), `two artifacts named "${inputs.name}"`);
      artifacts.set(inputs.name, files);
      return;
    }
    case "actions/download-artifact": {
      const target = join(dir, inputs.path ?? ".");
      const wanted = inputs.pattern === undefined
        ? [inputs.name]
        : [...artifacts.keys()].filter((n) => glob(inputs.pattern).test(n));
      assert.ok(
        inputs.pattern === undefined || inputs["merge-multiple"] === "true",
        "a pattern without merge-multiple puts each artifact in a folder of its own",
      );
      for (const artifactName of wanted) {
        const files = artifacts.get(artifactName);
        assert.ok(files, `no artifact "${artifactName}" to download`);
        await mkdir(target, { recursive: true });
        for (const [file, source] of files) {
          await copyFile(source, join(target, file));
          await chmod(join(target, file), 0o644); // artifacts keep no mode
        }
      }
      return;
    }
    default:
      throw new Error(`The emulator does not know the action "${step.uses}"`);
  }
}

/** upload-artifact's `path`: lines of globs (`*` within a name), `!` to leave out, `dir/`. */
async function matchPaths(dir: string, paths: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const line of paths.split("\n").map((l) => l.trim()).filter((l) => l !== "")) {
    const negate = line.startsWith("!");
    const pattern = negate ? line.slice(1) : line;
    const slash = pattern.lastIndexOf("/");
    const folder = join(dir, pattern.slice(0, slash));
    const leaf = glob(slash === pattern.length - 1 ? "*" : pattern.slice(slash + 1));
    let entries: string[];
    try {
      entries = await readdir(folder);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!leaf.test(entry) || !(await stat(join(folder, entry))).isFile()) continue;
      if (negate) files.delete(entry);
      else files.set(entry, join(folder, entry));
    }
  }
  return files;
}

function glob(pattern: string): RegExp {
  const body = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${body.join("[^/]*")}$`);
}

function expand(
  values: Record<string, string>,
  matrix: Record<string, string>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [
      key,
      String(value).replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_, expr: string) => {
        if (expr === "github.token") return "fake-token";
        const field = /^matrix\.(\w+)$/.exec(expr)?.[1];
        if (field !== undefined && field in matrix) return matrix[field];
        throw new Error(`The emulator does not know the expression "${expr}"`);
      }),
    ]),
  );
}

/** PATH with `dir` first, for fake commands. */
export function pathWith(dir: string): string {
  return `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}`;
}
