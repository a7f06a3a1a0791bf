/**
 * An evaluation's report on disk: report.md (atomically) with two PNGs beside it, a grid of samples
 * (10 per digit, one row per digit) and the confusion matrix as a heat map.
 */
import { basename, dirname, extname, join } from "node:path";
import type { Evaluation } from "../recognition/evaluate.js";
import { confusionHeatMap, reportMarkdown } from "../recognition/report.js";
import { ensureParentDir, writeFileAtomic } from "./files.js";
import { writeDigitGrid, writeRgbPng } from "./png.js";

export interface ReportInput {
  /** (N, 28, 28) the samples: bytes 0..255, or pixels in [-1, 1]. */
  images: Uint8Array | Float32Array;
  /** (N) requested digit of each sample. */
  labels: Uint8Array;
  /** Where the samples came from, for the report's first line (e.g. an IDX prefix or a run folder). */
  source: string;
}

/** Paths of the files a report at `reportPath` consists of. */
export function reportFiles(reportPath: string): { report: string; samples: string; confusion: string } {
  const dir = dirname(reportPath);
  const stem = basename(reportPath, extname(reportPath));
  return { report: reportPath, samples: join(dir, `${stem}-samples.png`), confusion: join(dir, `${stem}-confusion.png`) };
}

/** Writes `reportPath` (Markdown), `<stem>-samples.png` and `<stem>-confusion.png`, each atomically. */
export function writeReport(reportPath: string, ev: Evaluation, input: ReportInput): { report: string; samples: string; confusion: string } {
  const files = reportFiles(reportPath);
  ensureParentDir(reportPath);
  writeDigitGrid(files.samples, input.images, input.labels, 10);
  const heat = confusionHeatMap(ev.confusion);
  writeRgbPng(files.confusion, heat.width, heat.height, heat.rgba);
  writeFileAtomic(reportPath, reportMarkdown(ev, input.source, basename(files.samples), basename(files.confusion)));
  return files;
}
