/// <reference lib="dom" />
/**
 * The page's entry script: two tabs, Draw (draw.ts) and Train (train-tab.ts), and the page's own
 * error box for anything neither catches. Address parameters, for a closer look or a test:
 *   #train               open on the Train tab
 *   ?kernel=js           train on the JavaScript matmul kernel
 *   ?simd=off            train as a browser without WebAssembly SIMD would (JS kernel, with the notice)
 *   ?limit-batches=N     epochs of N batches instead of all 937
 *   ?seed=S              the training run's seed (fresh otherwise)
 *   ?threads=N           threads for the SIMD kernel (default: navigator.hardwareConcurrency; at most 16)
 */
import { DrawTab } from "./draw.js";
import { byId, messageOf, showMessage } from "./dom.js";
import type { KernelChoice } from "./protocol.js";
import { TrainTab } from "./train-tab.js";
import { GENERATOR_URL } from "./urls.js";

const pageError = byId("page-error", HTMLParagraphElement);
window.addEventListener("error", (e) => showMessage(pageError, `Something went wrong on this page: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showMessage(pageError, `Something went wrong on this page: ${messageOf(e.reason)}`));

/** A whole-number address parameter, or null when absent; a malformed one is shown as an error. */
function intParam(params: URLSearchParams, name: string, min: number): number | null {
  const v = params.get(name);
  if (v === null) return null;
  if (!/^\d+$/.test(v) || Number(v) < min) {
    showMessage(pageError, `?${name}= must be a whole number of at least ${min}, got '${v}': ignored.`);
    return null;
  }
  return Number(v);
}

function showTab(name: string): void {
  for (const tab of document.querySelectorAll<HTMLButtonElement>("nav [role=tab]")) {
    const on = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(on));
    byId(tab.dataset.tab!, HTMLElement).hidden = !on;
  }
}

const params = new URLSearchParams(location.search);
const kernel: KernelChoice = params.get("simd") === "off" ? "pretend-no-simd" : params.get("kernel") === "js" ? "js" : "auto";
const draw = new DrawTab();
new TrainTab({
  kernel,
  limitBatches: intParam(params, "limit-batches", 1),
  seed: intParam(params, "seed", 0),
  threads: intParam(params, "threads", 1) ?? (navigator.hardwareConcurrency || 1),
  useGenerator(bytes, name) {
    draw.load(bytes, name);
    showTab("draw");
  },
});
for (const tab of document.querySelectorAll<HTMLButtonElement>("nav [role=tab]")) tab.addEventListener("click", () => showTab(tab.dataset.tab!));
showTab(location.hash === "#train" ? "train" : "draw");
void draw.loadUrl(GENERATOR_URL);
