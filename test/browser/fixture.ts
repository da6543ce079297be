/**
 * The set-up every browser test file shares: one app (temp corpus, real index, real server) and
 * one Chromium for the file, started before its tests and stopped after them; pages opened
 * through the fixture are closed after each test, and by default a page error fails the test.
 */
import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import {
  type App,
  type AppOptions,
  launchBrowser,
  type OpenPage,
  openPage,
  type PageOptions,
  startApp,
  TIMEOUT,
} from "./harness.ts";

export interface FixtureOptions extends AppOptions {
  /** "fail" (default): a page error or console error fails the test that opened the page. */
  pageErrors?: "fail" | "ignore";
}

export interface BrowserFixture {
  readonly app: App;
  readonly browser: Browser;
  /** A fresh context with the app open (see `openPage`), closed after the test. */
  open(opts?: PageOptions): Promise<OpenPage>;
}

/** Registers the file's hooks and returns the app and browser they start. Call at describe level. */
export function useBrowserApp(opts: FixtureOptions = {}): BrowserFixture {
  const { pageErrors = "fail", ...appOptions } = opts;
  let app: App | undefined;
  let browser: Browser | undefined;
  const opened: OpenPage[] = [];
  const started = <T>(value: T | undefined, name: string): T => {
    if (value === undefined)
      throw new Error(`the browser fixture's ${name} is not started (beforeAll failed?)`);
    return value;
  };

  beforeAll(async () => {
    [app, browser] = await Promise.all([startApp(appOptions), launchBrowser()]);
  }, TIMEOUT);
  afterEach(async () => {
    const pages = opened.splice(0);
    try {
      if (pageErrors === "fail") for (const p of pages) expect(p.log.errors).toEqual([]);
    } finally {
      for (const p of pages) await p.context.close();
    }
  });
  afterAll(async () => {
    await browser?.close();
    await app?.dispose();
  });

  return {
    get app() {
      return started(app, "app");
    },
    get browser() {
      return started(browser, "browser");
    },
    async open(pageOpts) {
      const p = await openPage(started(browser, "browser"), started(app, "app"), pageOpts);
      opened.push(p);
      return p;
    },
  };
}
