/** Turns a model's last hidden state into one unit vector per row. Pure; shared by every runner. */

/**
 * CLS or mean pooling over `hidden` ([rows, seq, dim], row-major), then L2 normalisation.
 * `lengths[b]` is row b's real token count (special tokens included); padding follows it.
 */
export function poolRows(
  hidden: Float32Array,
  rows: number,
  seq: number,
  dim: number,
  lengths: ArrayLike<number>,
  pooling: "cls" | "mean",
): Float32Array[] {
  const result: Float32Array[] = [];
  for (let b = 0; b < rows; b++) {
    const v = new Float32Array(dim);
    const base = b * seq * dim;
    if (pooling === "cls") {
      v.set(hidden.subarray(base, base + dim));
    } else {
      const count = lengths[b]!;
      for (let t = 0; t < count; t++) {
        const off = base + t * dim;
        for (let d = 0; d < dim; d++) v[d]! += hidden[off + d]!;
      }
      for (let d = 0; d < dim; d++) v[d]! /= Math.max(count, 1);
    }
    result.push(normalize(v));
  }
  return result;
}

/** Scales a vector to unit length in place. */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}
