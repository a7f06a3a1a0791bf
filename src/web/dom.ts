/// <reference lib="dom" />
/**
 * The little the page needs from the DOM: elements by id (checked, so a renamed id fails loudly
 * rather than silently), showing an error or a notice, and painting RGBA images onto a canvas at
 * their own size, enlarged by CSS without blurring (`image-rendering: pixelated` in style.css).
 */
import type { Rgba } from "../mnist/grid.js";

/** The element with this id, of this type; throws naming the id otherwise. */
export function byId<E extends HTMLElement>(id: string, type: { new (): E; prototype: E }): E {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`page: no <${type.name}> with id '${id}'`);
  return el;
}

/** An error's message, whatever was thrown. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Shows `text` in a message box, or hides the box for null. */
export function showMessage(box: HTMLElement, text: string | null): void {
  box.hidden = text === null;
  box.textContent = text ?? "";
}

/**
 * Paints `image` onto `canvas` pixel for pixel (the canvas takes the image's size) and displays it
 * `zoom` times larger. The pixels read back with getImageData are exactly `image.rgba`.
 */
export function paintRgba(canvas: HTMLCanvasElement, image: Rgba, zoom: number): void {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.style.width = `${image.width * zoom}px`;
  canvas.style.height = `${image.height * zoom}px`;
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("page: this browser gives no 2D canvas");
  const data = new ImageData(image.width, image.height);
  data.data.set(image.rgba);
  ctx.putImageData(data, 0, 0);
}

/** Writes `text` on the canvas instead of images, so a failure never leaves it blank. */
export function paintMessage(canvas: HTMLCanvasElement, text: string): void {
  canvas.width = 560;
  canvas.height = 48;
  canvas.style.width = `${canvas.width}px`;
  canvas.style.height = `${canvas.height}px`;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.fillStyle = "#3a1010";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#ffd0d0";
  ctx.font = "14px sans-serif";
  ctx.textBaseline = "middle";
  ctx.fillText(text.length > 80 ? `${text.slice(0, 77)}...` : text, 12, canvas.height / 2);
}
