/**
 * Answers that can arrive out of order (the documents list, /api/health): each request is
 * numbered when it is sent, and an answer is taken only when no request sent after it was answered
 * first. An older answer arriving late says less than the one already shown, so it is dropped.
 */
export interface Latest {
  /** How many requests were numbered so far: the newest one's number. */
  readonly asked: number;
  /** Numbers a request about to be sent: 1, then 2, 3, ... */
  ask(): number;
  /** Whether request `n`'s answer is to be shown (no later one's was); if so it is now the newest shown. */
  take(n: number): boolean;
}

/** A fresh count: nothing asked, nothing shown. */
export function createLatest(): Latest {
  let asked = 0;
  let shown = 0;
  return {
    get asked() {
      return asked;
    },
    ask: () => ++asked,
    take(n) {
      if (n < shown) return false;
      shown = n;
      return true;
    },
  };
}
