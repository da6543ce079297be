import hnswlib from "hnswlib-node";

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
  ) {}

  static create(dim: number, capacity = 1024): VectorIndex {
    const index = new hnswlib.HierarchicalNSW("cosine", dim);
    index.initIndex(Math.max(capacity, 16), M, EF_CONSTRUCTION, 100, true);
    index.setEf(EF_SEARCH);
    return new VectorIndex(index, dim);
  }

  static load(file: string, dim: number): VectorIndex {
    const index = new hnswlib.HierarchicalNSW("cosine", dim);
    index.readIndexSync(file, true);
    index.setEf(EF_SEARCH);
    return new VectorIndex(index, dim);
  }

  /** Points stored, including ones marked deleted. */
  get size(): number {
    return this.index.getCurrentCount();
  }

  add(label: number, vector: Float32Array): void {
    const count = this.index.getCurrentCount();
    if (count >= this.index.getMaxElements()) this.index.resizeIndex(Math.ceil(count * 1.5) + 16);
    this.index.addPoint(Array.from(vector), label, true);
  }

  remove(label: number): void {
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

  vector(label: number): Float32Array {
    return Float32Array.from(this.index.getPoint(label));
  }

  save(file: string): void {
    this.index.writeIndexSync(file);
  }
}
