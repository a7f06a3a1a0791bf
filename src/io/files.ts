/**
 * Files, the Node side of the project: every file it reads goes through `readBytes` (one line naming
 * the file when it cannot be read), and every file it writes goes to a temporary name beside its
 * target and is renamed into place only when complete, so an interrupted or failed write never
 * leaves a half-written file under the real name. The engine itself never touches files.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";

/** Writes `data` to `path` atomically (temporary file in the same folder, then rename). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Creates `dir` (and its parents) or fails with one line naming it. One folder at a time, from the
 * deepest that exists, rather than mkdirSync's `recursive`: on Linux, Node's recursive mkdir spins
 * forever when an existing folder refuses a child with ENOENT, as /proc does (`--out /proc/run`).
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break; // a root that does not exist
  }
  try {
    for (const d of missing) {
      try {
        mkdirSync(d);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e; // made meanwhile by someone else: fine
      }
    }
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error("not a folder"), { code: "ENOTDIR" });
  } catch (e) {
    throw new Error(`cannot create folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Creates the folder that will hold `path`. */
export function ensureParentDir(path: string): void {
  ensureDir(dirname(path));
}

/**
 * The bytes of `path`, or one line `<basename>: not found (<notFound>)` / `<basename>: cannot read: <code>`.
 * @param notFound what the not-found message says was looked for (default: the path)
 */
export function readBytes(path: string, notFound: string = path): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`${basename(path)}: not found (${notFound})`);
    throw new Error(`${basename(path)}: cannot read: ${code ?? (e as Error).message}`);
  }
}
