/** Arithmetic on embedding vectors, and the int8 form sentence vectors are stored in. Pure. */

/** Dot product; the cosine similarity of unit vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Int8 quantisation of a vector with one scale per vector: 4 bytes of scale, then n bytes. */
export function quantize(v: Float32Array): Buffer {
  let max = 0;
  for (const x of v) max = Math.max(max, Math.abs(x));
  const scale = max / 127 || 1;
  const buf = Buffer.alloc(4 + v.length);
  buf.writeFloatLE(scale, 0);
  for (let i = 0; i < v.length; i++) buf.writeInt8(Math.round(v[i]! / scale), 4 + i);
  return buf;
}

export function dequantize(buf: Buffer): Float32Array {
  const scale = buf.readFloatLE(0);
  const out = new Float32Array(buf.length - 4);
  // A view of the bytes, not readInt8 per element (a call and a bounds check each).
  const q = new Int8Array(buf.buffer, buf.byteOffset + 4, out.length);
  for (let i = 0; i < out.length; i++) out[i] = q[i]! * scale;
  return out;
}
