/**
 * A map that keeps its most recently used entries within a budget: each entry has a size
 * (`sizeOf`), and once their total passes the budget the least recently used are dropped, never the
 * entry just added. Reading an entry makes it the most recent.
 */
export class SizedLru<V> {
  readonly #map = new Map<string, V>();
  #size = 0;

  constructor(
    readonly budget: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: string): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    const old = this.#map.get(key);
    if (old !== undefined) {
      this.#map.delete(key);
      this.#size -= this.sizeOf(old);
    }
    this.#map.set(key, value);
    this.#size += this.sizeOf(value);
    for (const [k, v] of this.#map) {
      if (this.#size <= this.budget || k === key) break;
      this.#map.delete(k);
      this.#size -= this.sizeOf(v);
    }
  }
}
