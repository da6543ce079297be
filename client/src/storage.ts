/**
 * The browser's localStorage (or a tab's sessionStorage) behind a small port that never throws:
 * private modes, disabled storage and full quotas turn into "not saved" instead of a broken page.
 */
export interface KeyValueStore {
  get(key: string): string | undefined;
  /** False when the value could not be stored (quota, storage disabled). */
  set(key: string, value: string): boolean;
  remove(key: string): void;
}

export function browserStore(kind: "local" | "session" = "local"): KeyValueStore {
  const storage = (): Storage | undefined => {
    try {
      return kind === "session" ? window.sessionStorage : window.localStorage;
    } catch {
      return undefined;
    }
  };
  return {
    get(key) {
      try {
        return storage()?.getItem(key) ?? undefined;
      } catch {
        return undefined;
      }
    },
    set(key, value) {
      try {
        const s = storage();
        if (!s) return false;
        s.setItem(key, value);
        return true;
      } catch {
        return false;
      }
    },
    remove(key) {
      try {
        storage()?.removeItem(key);
      } catch {
        // Nothing to do: storage is unavailable.
      }
    },
  };
}

const TOKEN_KEY = "citeline.token";

/** The access token the user typed once, kept for later visits. */
export function createTokenStore(store: KeyValueStore) {
  return {
    get: (): string | undefined => store.get(TOKEN_KEY) || undefined,
    set: (token: string): void => {
      store.set(TOKEN_KEY, token);
    },
    clear: (): void => store.remove(TOKEN_KEY),
  };
}

export type TokenStore = ReturnType<typeof createTokenStore>;
