/**
 * `serve`: the engine in a web page. A small HTTP server on node:http that serves one page, its
 * scripts (bundled from src/web/ by esbuild when the server starts), the generator checkpoint the
 * Draw tab draws with, and the MNIST training files the Train tab learns from. Every response
 * carries the headers that make the page cross-origin isolated, so SharedArrayBuffer, shared
 * WebAssembly memory and Atomics.wait in workers are allowed. Runs until Ctrl-C (SIGINT or SIGTERM).
 *
 * The checkpoint is loaded once at start: a missing or corrupt file is a one-line error (exit 1)
 * before anything listens. A port in use is one line too.
 */
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { defineFlags, formatHelp, parseFlags } from "./args.js";
import { DEFAULT_GENERATOR_PATH, loadGenerator } from "../io/generator.js";
import { splitPaths } from "../io/mnist.js";
import { SPLIT_FILES } from "../mnist/dataset.js";
import { GENERATOR_URL, MNIST_URL, WORKER_SCRIPTS } from "../web/urls.js";

const WEB_DIR = new URL("../web/", import.meta.url);

const FLAGS = defineFlags({
  port: { type: "int", min: 0, max: 65535, default: 8080, help: "port to listen on (0: any free port, printed)" },
  host: { type: "string", default: "127.0.0.1", help: "address to listen on" },
  checkpoint: { type: "string", default: DEFAULT_GENERATOR_PATH, help: "generator .safetensors file or run folder the Draw tab draws with" },
  help: { type: "bool", help: "show this help" },
});
const USAGE = "tsx src/main.ts serve [--port N] [--host H] [--checkpoint FILE|RUN]";

/** Headers on every response: cross-origin isolation (COOP + COEP), and no caching of a page that changes with the code. */
const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
} as const;

/** A response held in memory: the page, its stylesheet, the bundled scripts, the checkpoint. */
interface Asset {
  type: string;
  body: Uint8Array | string;
}

/** The page's scripts, bundled for the browser from their TypeScript entry files in src/web/. */
async function bundleScripts(): Promise<Map<string, Asset>> {
  const entries: Record<string, string> = { page: fileURLToPath(new URL("page.ts", WEB_DIR)) };
  for (const [name, file] of Object.entries(WORKER_SCRIPTS)) entries[name] = fileURLToPath(new URL(file, WEB_DIR));
  const result = await build({
    entryPoints: entries,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    outdir: "/",
    sourcemap: "inline",
    logLevel: "silent",
  });
  const out = new Map<string, Asset>();
  for (const f of result.outputFiles) out.set(f.path.replace(/^.*\//, "/"), { type: "text/javascript; charset=utf-8", body: f.contents });
  return out;
}

export const command = {
  async run(argv: string[]): Promise<void> {
    const f = parseFlags(argv, FLAGS, "serve");
    if (f.help) return void console.log(formatHelp(USAGE, FLAGS));
    if (f.checkpoint === DEFAULT_GENERATOR_PATH && !existsSync(DEFAULT_GENERATOR_PATH))
      throw new Error(`serve: no shipped generator at ${DEFAULT_GENERATOR_PATH}: give one with --checkpoint FILE|RUN`);
    // Checked before listening: a corrupt or wrong file fails here, in one line naming it.
    const { path: generatorPath } = loadGenerator(f.checkpoint);
    const assets = await bundleScripts();
    assets.set("/", { type: "text/html; charset=utf-8", body: readFileSync(new URL("index.html", WEB_DIR), "utf8") });
    assets.set("/style.css", { type: "text/css; charset=utf-8", body: readFileSync(new URL("style.css", WEB_DIR), "utf8") });
    assets.set(GENERATOR_URL, { type: "application/octet-stream", body: readFileSync(generatorPath) });
    // Only the training split: the page trains, the classifier that judges lives on the Node side.
    const train = splitPaths("train");
    const mnist = new Map([SPLIT_FILES.train.images, SPLIT_FILES.train.labels].map((name, i) => [`${MNIST_URL}${name}`, i === 0 ? train.images : train.labels]));
    for (const p of mnist.values()) statSync(p); // a missing data file fails at start, naming it

    const server = createServer((req, res) => handle(req, res, assets, mnist));
    const address = await listen(server, f.port, f.host);
    console.log(`serving on ${address} (generator ${generatorPath}; Ctrl-C to stop)`);
    await stopOnSignal(server);
    console.log("stopped");
  },
};

function handle(req: IncomingMessage, res: ServerResponse, assets: Map<string, Asset>, mnist: Map<string, string>): void {
  const url = new URL(req.url ?? "/", "http://localhost");
  const path = url.pathname === "/index.html" ? "/" : url.pathname;
  if (req.method !== "GET" && req.method !== "HEAD") return void send(res, 405, "text/plain", "method not allowed\n");
  const asset = assets.get(path);
  if (asset) return void send(res, 200, asset.type, req.method === "HEAD" ? "" : asset.body);
  const file = mnist.get(path);
  if (file) {
    res.writeHead(200, { ...ISOLATION_HEADERS, "Content-Type": "application/octet-stream", "Content-Length": statSync(file).size });
    if (req.method === "HEAD") return void res.end();
    createReadStream(file).on("error", () => res.destroy()).pipe(res);
    return;
  }
  send(res, 404, "text/plain; charset=utf-8", `not found: ${basename(path)}\n`);
}

function send(res: ServerResponse, status: number, type: string, body: Uint8Array | string): void {
  res.writeHead(status, { ...ISOLATION_HEADERS, "Content-Type": type });
  res.end(body);
}

/** Listens, resolving to the page's address; a port in use (or any listen error) is a one-line error. */
function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE") reject(new Error(`serve: port ${port} is already in use (choose another with --port)`));
      else if (e.code === "EACCES") reject(new Error(`serve: no permission to listen on port ${port}`));
      else reject(new Error(`serve: cannot listen on ${host}:${port}: ${e.message}`));
    });
    server.listen(port, host, () => {
      const a = server.address();
      const p = typeof a === "object" && a !== null ? a.port : port;
      resolve(`http://${host.includes(":") ? `[${host}]` : host}:${p}/`);
    });
  });
}

/** Resolves once SIGINT or SIGTERM has closed the server and every open connection. */
function stopOnSignal(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
