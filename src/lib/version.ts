import pkg from "../../package.json" with { type: "json" };

/** Embedded at build time: both compilers bundle the JSON import into the binary. */
export const VERSION: string = pkg.version;
