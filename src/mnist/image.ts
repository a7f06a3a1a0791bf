/**
 * The shape of MNIST's data, named once: 28x28 greyscale images of the ten digits. Every module that
 * needs the image size or the number of classes imports it from here rather than writing 784 or 10.
 */

export const IMAGE_H = 28;
export const IMAGE_W = 28;
/** Pixels per image, 28 * 28. */
export const IMAGE_SIZE = IMAGE_H * IMAGE_W;
/** The digits 0..9. */
export const NUM_CLASSES = 10;
