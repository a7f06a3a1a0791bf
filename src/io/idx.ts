/**
 * IDX files on disk: read (plain or gzipped) and written atomically (gzipped when the name ends
 * `.gz`). Parsing and encoding the bytes is `src/mnist/idx.ts`; this is the Node side only.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { encodeIdx, pairImagesLabels, parseIdx } from "../mnist/idx.js";
import type { Idx, IdxKind, ImagesLabels } from "../mnist/idx.js";
import { ensureParentDir, readBytes, writeFileAtomic } from "./files.js";

/**
 * Reads an IDX file. A path ending `.gz` is gunzipped; a plain path that does not exist is tried
 * again with `.gz` appended. `kind`, when given, also checks the number of dimensions.
 */
export function readIdx(path: string, kind?: IdxKind): Idx {
  let file = path;
  if (!path.endsWith(".gz") && !existsSync(path) && existsSync(`${path}.gz`)) file = `${path}.gz`;
  const name = basename(file);
  let bytes = readBytes(file, `looked for ${path} and ${path}.gz`);
  if (file.endsWith(".gz")) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${name}: not a valid gzip file (${(e as Error).message})`);
    }
  }
  return parseIdx(bytes, name, kind);
}

/** Writes an IDX file atomically; a path ending `.gz` is gzipped. */
export function writeIdx(path: string, dims: number[], data: Uint8Array): void {
  const bytes = encodeIdx(dims, data);
  ensureParentDir(path);
  writeFileAtomic(path, path.endsWith(".gz") ? gzipSync(bytes) : bytes);
}

/** Reads an images file and its labels file, checking they agree in count, size and label range. */
export function readImagesLabels(imagesPath: string, labelsPath: string): ImagesLabels {
  return pairImagesLabels(readIdx(imagesPath, "images"), readIdx(labelsPath, "labels"), basename(imagesPath), basename(labelsPath));
}
