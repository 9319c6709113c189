/** The start-up yardstick: compiled the way scripts/build.ts compiles qwen. */
console.log("hello");
