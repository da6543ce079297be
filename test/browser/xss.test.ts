import { describe, expect, it } from "vitest";
import { useBrowserApp } from "./fixture.ts";
import { ask, TIMEOUT, waitForStatus } from "./harness.ts";

const PAYLOAD = [
  "The Zorblax bulletin quotes this markup: <script>window.__pwned=1</script> in its warning.",
  'The Zorblax bulletin also shows <img src=x onerror="window.__pwned=1"> as an image tag.',
  "The Zorblax bulletin links to [the form](javascript:alert(1)) and to javascript:alert(1) directly.",
].join("\n\n");

const DOCS = {
  // Its own last sentence lets a second question reach it: weak near-copies are pruned from sources.
  "zorblax.txt": `Zorblax bulletin <script>window.__pwned=1</script>\n\n${PAYLOAD}\n\nThe Zorblax bulletin <b>was printed</b> by the Quentmoor press.\n`,
  "zorblax-notes.md": [
    "---",
    'title: Zorblax notes <img src=x onerror="window.__pwned=1">',
    "date: 2024-12-10",
    "url: javascript:alert(1)",
    "---",
    "",
    PAYLOAD,
    "",
  ].join("\n"),
};

describe("corpus text that looks like markup", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({ docs: DOCS });

  it("renders as inert text in answers, source lists, cards and the source panel", async () => {
    const { page, context, log } = await fx.open();
    try {
      await ask(page, "What markup does the Zorblax bulletin quote?");
      await waitForStatus(page);
      const files = new Set<string>();
      const titles: string[] = [];
      for (const [i, question] of ["", "Who printed the Zorblax bulletin?"].entries()) {
        if (i > 0) {
          await ask(page, question);
          await waitForStatus(page);
        }
        const turn = page.locator(".turn").last();
        await expect(turn.locator(".a-body").textContent()).resolves.toContain("Zorblax");

        const sources = turn.locator(".source");
        const count = await sources.count();
        titles.push(...(await turn.locator(".source-title").allTextContents()));
        for (let j = 0; j < count; j++) {
          await sources.nth(j).click();
          const text = page.locator("#source-panel .doc-text");
          await text.locator("mark").waitFor();
          const body = (await text.textContent()) ?? "";
          const meta = (await page.locator("#source-panel .panel-meta").textContent()) ?? "";
          for (const f of Object.keys(DOCS)) if (meta.includes(f)) files.add(f);
          if (meta.includes("zorblax-notes.md")) {
            // The front matter's javascript: URL is shown as text, not made a link.
            expect(meta).toContain("javascript:alert(1)");
            await expect(page.locator("#source-panel .panel-meta a").count()).resolves.toBe(0);
          }
          if (body.includes("Zorblax") && meta.includes("zorblax.txt")) {
            expect(body).toContain("<script>window.__pwned=1</script>");
            expect(body).toContain('<img src=x onerror="window.__pwned=1">');
            expect(body).toContain("javascript:alert(1)");
          }
          if (body.includes("Zorblax") && meta.includes("zorblax-notes.md")) {
            // Markdown is stored as the text a reader sees: its inline HTML and link targets are gone.
            expect(body).not.toMatch(/<script|<img|\]\(/);
            expect(body).toContain(
              "The Zorblax bulletin links to the form and to javascript:alert(1) directly.",
            );
          }
          await page.keyboard.press("Escape");
          await page.locator("#source-panel").waitFor({ state: "hidden" });
        }
      }
      expect(titles).toContain('Zorblax notes <img src=x onerror="window.__pwned=1">');
      expect([...files].sort()).toEqual(Object.keys(DOCS).sort());
      for (const chip of await page.locator(".turn button.chip").all()) {
        await chip.focus();
        await page.locator("#cite-card").waitFor();
      }

      const dom = await page.evaluate(() => ({
        pwned: (window as unknown as { __pwned?: unknown }).__pwned,
        scripts: [...document.scripts].map((s) => s.getAttribute("src")),
        handlers: document.querySelectorAll("[onerror], [onload], [onclick]").length,
        images: document.querySelectorAll("img").length,
        links: [...document.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")),
        scriptUrls: [...document.querySelectorAll("[href], [src], [action], [formaction]")].filter((e) =>
          [...e.attributes].some((a) => /^\s*javascript:/i.test(a.value)),
        ).length,
      }));
      expect(dom).toEqual({
        pwned: undefined,
        scripts: ["app.js"],
        handlers: 0,
        images: 0,
        links: ["#question"],
        scriptUrls: 0,
      });
      expect(log.dialogs).toEqual([]);
      expect(log.requests.filter((u) => new URL(u).pathname === "/x")).toEqual([]);
      expect(log.errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
