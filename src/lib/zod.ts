/**
 * `zod/mini` with zod's English messages: what every schema of the program imports. The full
 * `zod` costs about 3 ms of start-up in a compiled binary, `zod/mini` well under one; mini has
 * no messages of its own, and some of them reach users ("expected string, received number").
 */
import { config, z } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());

export { z };
