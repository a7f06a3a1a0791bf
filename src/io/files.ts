/**
 * Files, the Node side of the project: every file it reads goes through `readBytes` (one line naming
 * the file when it cannot be read), and every file it writes goes to a temporary name beside its
 * target and is renamed into place only when complete, so an interrupted or failed write never
 * leaves a half-written file under the real name. The engine itself never touches files.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";

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

/** Creates `dir` (and its parents) or fails with one line naming it. */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
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
