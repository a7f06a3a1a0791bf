import { defineConfig } from "vitest/config";

// Tests run in forked processes (the engine is CPU-bound), two at a time on this 2-core machine.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
