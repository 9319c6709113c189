/**
 * The launchd agent of `qwen service install` on macOS (docs/service.md): a property list with the
 * program and its arguments, started at login and again whenever it fails, its output appended to
 * a log file; and the reading back of one we wrote.
 */

/** In every agent we write, right after the XML declaration. */
export const PLIST_MARKER =
  '<!-- Written by "qwen service install", which rewrites it when run again; "qwen service ' +
  'uninstall" removes it. -->';

interface PlistSpec {
  label: string;
  /** The binary and its arguments. */
  programArguments: readonly string[];
  /** Variables for the program (QWEN_HOME when it is set). */
  environment: Readonly<Record<string, string>>;
  log: string;
}

/** Seconds launchd waits before starting again a program that ended: it fails fast when misconfigured. */
const THROTTLE_S = 10;

export function renderPlist(spec: PlistSpec): string {
  const strings = (values: readonly string[], indent: string) =>
    values.map((v) => `${indent}<string>${escapeXml(v)}</string>`).join("\n");
  const environment = Object.entries(spec.environment);
  return `<?xml version="1.0" encoding="UTF-8"?>
${PLIST_MARKER}
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${escapeXml(spec.label)}</string>
  <key>ProgramArguments</key>
  <array>
${strings(spec.programArguments, "    ")}
  </array>
${
    environment.length === 0 ? "" : `  <key>EnvironmentVariables</key>
  <dict>
${
      environment.map(([name, value]) =>
        `    <key>${escapeXml(name)}</key>\n    <string>${escapeXml(value)}</string>`
      ).join("\n")
    }
  </dict>
`
  }  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>${THROTTLE_S}</integer>
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardOutPath</key>
  <string>${escapeXml(spec.log)}</string>
  <key>StandardErrorPath</key>
  <string>${escapeXml(spec.log)}</string>
</dict>
</plist>
`;
}

/** The ProgramArguments of an agent we wrote, and its EnvironmentVariables. */
export function readPlist(
  text: string,
): { programArguments: string[]; environment: Record<string, string> } | undefined {
  const args = /<key>ProgramArguments<\/key>\s*<array>([\s\S]*?)<\/array>/.exec(text);
  if (!args) return undefined;
  const programArguments = [...args[1].matchAll(/<string>([\s\S]*?)<\/string>/g)].map((m) =>
    unescapeXml(m[1])
  );
  const environment: Record<string, string> = {};
  const env = /<key>EnvironmentVariables<\/key>\s*<dict>([\s\S]*?)<\/dict>/.exec(text);
  for (
    const m of env?.[1].matchAll(/<key>([\s\S]*?)<\/key>\s*<string>([\s\S]*?)<\/string>/g) ?? []
  ) {
    environment[unescapeXml(m[1])] = unescapeXml(m[2]);
  }
  return { programArguments, environment };
}

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);
}

function unescapeXml(text: string): string {
  return text.replace(
    /&(amp|lt|gt|quot|apos);/g,
    (entity) => Object.entries(XML_ESCAPES).find(([, e]) => e === entity)![0],
  );
}
