/**
 * The command-line entry point: `tsx src/main.ts COMMAND [flags]`. Each command lives in its own
 * module under `src/cli/` and is loaded only when called. Errors print as one line: exit code 2 for
 * a wrongly written command, 1 for a failure at run time; never a stack trace (set DEBUG=1 for one).
 */
import { UsageError } from "./cli/errors.js";

export interface Command {
  run(argv: string[]): Promise<void> | void;
}

/** Command name -> its one-line summary for --help, and the module that exports `command: Command`. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  data: { summary: "inspect MNIST: per-digit counts and mean pixel, a PNG of real digits", load: () => import("./cli/data.js") },
  classifier: { summary: "train the MNIST classifier that judges samples, or measure it on the test set", load: () => import("./cli/classifier.js") },
  evaluate: { summary: "judge generated digits (an IDX pair, or drawn from a generator) with the classifier, beside real ones", load: () => import("./cli/evaluate.js") },
  train: { summary: "train the conditional WGAN on MNIST (grids, losses, checkpoints in runs/<name>/)", load: () => import("./cli/train.js") },
  generate: { summary: "draw new images of a digit from a trained generator into a PNG grid", load: () => import("./cli/generate.js") },
  serve: { summary: "a web page: draw digits from a generator, and train one in the browser", load: () => import("./cli/serve.js") },
  sample: { summary: "write generated digits as an MNIST IDX pair (PREFIX-images/labels)", load: () => import("./cli/sample.js") },
};

function topHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length), 8);
  return [
    "usage: tsx src/main.ts COMMAND [flags]     (COMMAND --help for its flags)",
    "",
    "commands:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]!.summary}`),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(topHelp());
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (!entry) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(", ")})`);
  const { command } = await entry.load();
  await command.run(rest);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    if (process.env.DEBUG) console.error(e.stack);
    console.error(`error: ${e.message.split("\n")[0]}`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  },
);
