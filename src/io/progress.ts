/**
 * A one-line progress bar on stderr for long loops: done/total, rate, ETA and a short status.
 * Drawn only when stderr is a terminal (redrawn at most every 100 ms); silent otherwise, so logs
 * and pipes get only the summary lines the caller prints.
 */
export class ProgressBar {
  private readonly start = performance.now();
  private last = 0;
  private readonly enabled: boolean;

  constructor(private readonly label: string, private readonly total: number, private readonly unit = "it") {
    this.enabled = process.stderr.isTTY === true;
  }

  /** Redraws the bar after `done` steps; `perStep` items per step set the rate shown (e.g. images). */
  update(done: number, status = "", perStep = 1): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    const secs = (now - this.start) / 1000;
    const rate = secs > 0 ? (done * perStep) / secs : 0;
    const eta = done > 0 ? (secs / done) * (this.total - done) : 0;
    const width = 24;
    const filled = Math.round((width * done) / Math.max(this.total, 1));
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    const line = `${this.label} [${bar}] ${done}/${this.total} ${rate.toFixed(0)} ${this.unit}/s ETA ${formatSeconds(eta)} ${status}`;
    const cols = process.stderr.columns ?? 120;
    process.stderr.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length))}\x1b[K`);
  }

  /** Clears the bar's line, so the caller's summary line starts clean. */
  done(): void {
    if (this.enabled) process.stderr.write("\r\x1b[K");
  }

  /** Seconds since the bar was made. */
  elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function formatSeconds(s: number): string {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}
