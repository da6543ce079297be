import hnswlib from "hnswlib-node";
import { HnswPoints } from "./hnsw-points.ts";

/** Nearest-neighbour search over unit vectors; labels are chunk labels from the store. */
export interface VectorHit {
  label: number;
  /** Cosine similarity. */
  score: number;
}

const M = 16;
const EF_CONSTRUCTION = 200;
const EF_SEARCH = 128;

/** hnswlib (cosine space) behind a small add/remove/search port. */
export class VectorIndex {
  private constructor(
    private readonly index: hnswlib.HierarchicalNSW,
    readonly dim: number,
    /** Vectors read from the saved file, for a graph loaded to be read and not changed. */
    private readonly points?: HnswPoints,
  ) {}

  static create(dim: number, capacity = 1024): VectorIndex {
    const index = new hnswlib.HierarchicalNSW("cosine", dim);
    index.initIndex(Math.max(capacity, 16), M, EF_CONSTRUCTION, 100, true);
    index.setEf(EF_SEARCH);
    return new VectorIndex(index, dim);
  }

  /**
   * Loads a saved graph. With `readonly`, {@link vector} reads the file instead of asking
   * hnswlib (much cheaper; see backends/embedded/hnsw-points.ts), and the graph must not be changed.
   */
  static load(file: string, dim: number, opts: { readonly?: boolean } = {}): VectorIndex {
    const index = new hnswlib.HierarchicalNSW("cosine", dim);
    index.readIndexSync(file, true);
    index.setEf(EF_SEARCH);
    return new VectorIndex(index, dim, opts.readonly ? HnswPoints.open(file, dim) : undefined);
  }

  /** Points stored, including ones marked deleted. */
  get size(): number {
    return this.index.getCurrentCount();
  }

  add(label: number, vector: Float32Array): void {
    if (this.points) throw new Error("this vector index was loaded read-only");
    const count = this.index.getCurrentCount();
    if (count >= this.index.getMaxElements()) this.index.resizeIndex(Math.ceil(count * 1.5) + 16);
    this.index.addPoint(Array.from(vector), label, true);
  }

  remove(label: number): void {
    if (this.points) throw new Error("this vector index was loaded read-only");
    this.index.markDelete(label);
  }

  /** The k nearest labels, best first. `filter` keeps only labels it accepts. */
  search(vector: Float32Array, k: number, filter?: (label: number) => boolean): VectorHit[] {
    const n = Math.min(k, this.size);
    if (n === 0) return [];
    const ef = Math.max(EF_SEARCH, n);
    if (this.index.getEf() !== ef) this.index.setEf(ef);
    const { neighbors, distances } = this.index.searchKnn(Array.from(vector), n, filter);
    return neighbors.map((label, i) => ({ label, score: 1 - distances[i]! }));
  }

  /** The stored (unit) vector of a label; throws for a label the graph does not hold. */
  vector(label: number): Float32Array {
    return this.points?.vector(label) ?? Float32Array.from(this.index.getPoint(label));
  }

  /** Releases the file a read-only index reads vectors from. */
  close(): void {
    this.points?.close();
  }

  save(file: string): void {
    this.index.writeIndexSync(file);
  }
}
