import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/**
 * The stored vectors of a saved hnswlib graph, read from its file by label. hnswlib-node's
 * `getPoint` builds a JS array element by element (about 85 µs per 384-dimension vector), and an
 * answer reads a vector for every candidate chunk; one positioned read of the file (which the page
 * cache holds) costs a few microseconds and no memory beyond the label table.
 *
 * The file (hnswlib's `saveIndex`, little-endian): a 96-byte header, then `count` elements of
 * `sizePerElement` bytes, each its level-0 links (a 4-byte header whose third byte marks the
 * element deleted), its vector at `offsetData` and its label (8 bytes) at `labelOffset`.
 */
export class HnswPoints {
  private constructor(
    private fd: number | undefined,
    private readonly slots: Map<number, number>,
    private readonly sizePerElement: number,
    private readonly offsetData: number,
    private readonly bytes: number,
  ) {}

  /** Opens a saved graph of `dim`-dimensional float32 vectors; throws on a file of another shape. */
  static open(file: string, dim: number): HnswPoints {
    const fd = openSync(file, "r");
    try {
      const head = Buffer.alloc(HEADER_BYTES);
      if (readSync(fd, head, 0, HEADER_BYTES, 0) !== HEADER_BYTES) throw new Error("short header");
      const num = (at: number) => Number(head.readBigUInt64LE(at));
      const offsetLevel0 = num(0);
      const count = num(16);
      const sizePerElement = num(24);
      const labelOffset = num(32);
      const offsetData = num(40);
      const bytes = dim * 4;
      const level0End = HEADER_BYTES + count * sizePerElement;
      if (
        offsetLevel0 !== 0 ||
        offsetData + bytes > labelOffset ||
        labelOffset + 8 > sizePerElement ||
        level0End > fstatSync(fd).size
      ) {
        throw new Error(`${file} is not an hnswlib graph of ${dim}-dimensional vectors`);
      }
      // Labels of live elements, read a few thousand elements at a time.
      const slots = new Map<number, number>();
      const per = Math.max(1, Math.floor((4 << 20) / sizePerElement));
      const buf = Buffer.alloc(per * sizePerElement);
      for (let first = 0; first < count; first += per) {
        const n = Math.min(per, count - first);
        readSync(fd, buf, 0, n * sizePerElement, HEADER_BYTES + first * sizePerElement);
        for (let i = 0; i < n; i++) {
          const at = i * sizePerElement;
          if ((buf[at + 2]! & DELETE_MARK) !== 0) continue;
          slots.set(Number(buf.readBigUInt64LE(at + labelOffset)), first + i);
        }
      }
      return new HnswPoints(fd, slots, sizePerElement, offsetData, bytes);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** The stored vector of a label, exactly as hnswlib holds it; undefined for a label it lacks. */
  vector(label: number): Float32Array | undefined {
    const slot = this.slots.get(label);
    if (slot === undefined || this.fd === undefined) return undefined;
    const out = new Float32Array(this.bytes / 4);
    const at = HEADER_BYTES + slot * this.sizePerElement + this.offsetData;
    readSync(this.fd, new Uint8Array(out.buffer), 0, this.bytes, at);
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** offsetLevel0, maxElements, count, sizePerElement, labelOffset, offsetData (8 bytes each),
 * maxLevel, enterPoint (4 each), maxM, maxM0, M, mult, efConstruction (8 each). */
const HEADER_BYTES = 96;
/** hnswlib's deleted flag, in the third byte of an element's level-0 link header. */
const DELETE_MARK = 0x01;
