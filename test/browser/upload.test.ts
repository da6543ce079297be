import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { useBrowserApp } from "./fixture.ts";
import { ARTIFACTS, ask, doneFrame, lastTurn, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

const FIXTURES = path.join(import.meta.dirname, "..", "fixtures", "documents");
const ZORBLAX = "Zorblax ferry timetable\n\nThe Zorblax ferry leaves the quay at seven every morning.";

/** Drops files on the page as a drag from the desktop does: a `drop` event carrying them. */
async function dropFiles(page: Page, files: { name: string; bytes: Buffer; type?: string }[]): Promise<void> {
  const transfer = await page.evaluateHandle(
    (list) => {
      const dt = new DataTransfer();
      for (const f of list) {
        const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
        dt.items.add(new File([bytes], f.name, { type: f.type }));
      }
      return dt;
    },
    files.map((f) => ({ name: f.name, base64: f.bytes.toString("base64"), type: f.type ?? "" })),
  );
  await page.dispatchEvent("body", "dragenter", { dataTransfer: transfer });
  await page.dispatchEvent("body", "dragover", { dataTransfer: transfer });
  await page.dispatchEvent("body", "drop", { dataTransfer: transfer });
}

/** Uploads a text file through the empty page's picker, as a click on its upload button does. */
async function pickFile(page: Page, name: string, text: string): Promise<void> {
  const chooser = page.waitForEvent("filechooser");
  await page.locator(".empty-howto button.empty-upload").click();
  await (await chooser).setFiles({ name, mimeType: "text/plain", buffer: Buffer.from(text) });
}

const item = (page: Page, name: string) => page.locator(`#docs-dialog li.docs-item[data-name="${name}"]`);

/**
 * Waits for the page's first documents list. The empty state shows before it arrives (it is read
 * after the health check), with the types the page knows without asking; the panel is rendered,
 * busy or not, once a list is in.
 */
const listed = (page: Page) => page.locator("#docs-dialog[data-busy]").waitFor({ state: "attached" });

describe("an empty corpus in the page", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({ seed: false });

  it("says where files go, lists PDF and Word among the types, and takes a file from its picker until it is answerable", async () => {
    const { page, log } = await fx.open();
    await waitForConnected(page);
    await expect(page.locator(".empty-title").textContent()).resolves.toBe("No documents yet");
    const howto = page.locator(".empty-howto");
    await listed(page);
    const types = await howto.locator("code").allTextContents();
    expect(types.slice(0, 8)).toEqual([".txt", ".md", ".html", ".htm", ".jsonl", ".json", ".pdf", ".docx"]);
    expect(await howto.textContent()).toContain("CITELINE_CORPUS_DIR");

    await page.screenshot({ path: path.join(ARTIFACTS, "empty-corpus-1280x800-light.png") });
    await pickFile(page, "zorblax.txt", ZORBLAX);
    await item(page, "zorblax.txt").and(page.locator('[data-status="indexed"]')).waitFor({ timeout: 60_000 });
    await expect(item(page, "zorblax.txt").locator(".docs-doc-title").textContent()).resolves.toBe(
      "Zorblax ferry timetable",
    );
    await expect(item(page, "zorblax.txt").locator(".docs-doc-meta").textContent()).resolves.toBe(
      "1 passage",
    );
    await expect(readFile(path.join(fx.app.config.corpusDir, "zorblax.txt"), "utf8")).resolves.toBe(ZORBLAX);

    // Closed, the page is no longer empty: it asks, and the answer cites the upload.
    await page.keyboard.press("Escape");
    await page.locator(".empty-title", { hasText: "Ask your documents" }).waitFor({ timeout: 60_000 });
    await ask(page, "When does the Zorblax ferry leave?");
    await waitForStatus(page, "done", 60_000);
    expect(doneFrame(log).citations.map((c) => c.docId)).toContain("zorblax");
    await expect(lastTurn(page).locator(".a-body").textContent()).resolves.toContain(
      "at seven every morning",
    );
  });
});

describe("the documents panel", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp();

  it("indexes files dropped on the page, names the ones it refuses, lists pages and passages, and deletes", async () => {
    const { page } = await fx.open();
    await waitForConnected(page);
    const pdf = await readFile(path.join(FIXTURES, "harbour-report.pdf"));
    await dropFiles(page, [
      { name: "harbour-report.pdf", bytes: pdf, type: "application/pdf" },
      { name: "setup.exe", bytes: Buffer.from("MZ") },
      { name: "broken.pdf", bytes: Buffer.from("%PDF-1.7 not really") },
    ]);
    const dialog = page.locator("#docs-dialog");
    await dialog.waitFor();
    await item(page, "harbour-report.pdf")
      .and(page.locator('[data-status="indexed"]'))
      .waitFor({ timeout: 60_000 });
    await expect(item(page, "harbour-report.pdf").locator(".docs-doc-meta").textContent()).resolves.toMatch(
      /^3 pages · \d+ passages$/,
    );
    // The broken file may be read by a later build than the report's.
    await item(page, "broken.pdf").and(page.locator('[data-status="failed"]')).waitFor({ timeout: 60_000 });
    await expect(item(page, "setup.exe").getAttribute("data-status")).resolves.toBe("refused");
    await expect(item(page, "setup.exe").locator(".docs-problem").textContent()).resolves.toMatch(
      /^\.exe files are not read \(supported: \.txt, /,
    );
    await expect(item(page, "broken.pdf").locator(".docs-problem").textContent()).resolves.toMatch(
      /^FILE_MALFORMED: broken\.pdf: /,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, "documents-panel-1280x800-light.png") });
    const corpus = await readdir(fx.app.config.corpusDir);
    expect(corpus).toContain("broken.pdf");
    expect(corpus).not.toContain("setup.exe");

    // Delete asks once more, then the file and its documents are gone.
    const del = item(page, "harbour-report.pdf").locator("button.docs-delete");
    await del.click();
    await expect(del.textContent()).resolves.toBe("Delete for good?");
    await del.click();
    await page
      .locator('#docs-dialog li.docs-item[data-name="harbour-report.pdf"][data-status="indexed"]')
      .waitFor({ state: "detached" });
    await page.locator('#docs-dialog[data-busy="false"]').waitFor({ timeout: 60_000 });
    const progress = await page.locator(".docs-progress").textContent();
    expect(await item(page, "harbour-report.pdf").count(), `the list says: ${progress}`).toBe(0);
    expect(await readdir(fx.app.config.corpusDir)).not.toContain("harbour-report.pdf");
    const hits = (await (await fetch(`${fx.app.url}/api/search?q=dredging%20silt&mode=lexical`)).json()) as {
      hits: { docId: string }[];
    };
    expect(hits.hits.map((h) => h.docId)).not.toContain("harbour-report");
  });

  it("shows a title that looks like HTML as text", async () => {
    const { page } = await fx.open();
    await waitForConnected(page);
    const title = '<img src=x onerror="document.title=1">Bold <b>claims</b>';
    await dropFiles(page, [
      { name: "markup.txt", bytes: Buffer.from(`${title}\n\nPlain words about markup.`) },
    ]);
    await item(page, "markup.txt").and(page.locator('[data-status="indexed"]')).waitFor({ timeout: 60_000 });
    await expect(item(page, "markup.txt").locator(".docs-doc-title").textContent()).resolves.toBe(title);
    await expect(page.locator("#docs-dialog img, #docs-dialog b").count()).resolves.toBe(0);
  });
});

describe("an upload while an older list of the documents is on its way", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({ seed: false });

  it("waits for the upload's own build before reading what the corpus holds", async () => {
    // Long enough that its build (tens of passages to embed) is still running when the upload
    // is answered: the list asked for before the upload, answered after it, says "idle" about
    // the folder as it was, and must not be taken for the end of this build.
    const paragraphs = Array.from(
      { length: 60 },
      (_, i) =>
        `Entry ${i + 1} of the harbour log. The tug Marisol ${i + 1} towed barge ${(i * 37) % 101} past the breakwater at ${(i % 12) + 1} o'clock, while the pilot noted a swell of ${(i % 5) + 1} feet, gusts from the ${["north", "east", "south", "west"][i % 4]}, and a cargo of ${["timber", "grain", "salt", "coal", "cement"][i % 5]} bound for the inner basin.`,
    );
    const text = `Harbour log\n\n${paragraphs.join("\n\n")}\n\nThe Zorblax ferry leaves the quay at seven every morning.`;
    let holding = false;
    let uploaded!: () => void;
    const answered = new Promise<void>((resolve) => {
      uploaded = resolve;
    });
    const { page } = await fx.open({
      setup: async (context) => {
        await context.route(/\/api\/documents(\?|$)/, async (route) => {
          const method = route.request().method();
          // Asked of the server now, answered to the page only once the upload was.
          const res = await route.fetch();
          if (method === "GET" && holding) await answered;
          await route.fulfill({ response: res });
          if (method === "POST") {
            holding = false;
            uploaded();
          }
        });
      },
    });
    await waitForConnected(page);
    await page.locator(".empty-title", { hasText: "No documents yet" }).waitFor();
    // Only lists asked for after the first: a page without a list reads one before it uploads,
    // and held, that one would wait for an upload that waits for it.
    await listed(page);
    holding = true;
    await pickFile(page, "harbour-log.txt", text);
    await item(page, "harbour-log.txt")
      .and(page.locator('[data-status="indexed"]'))
      .waitFor({ timeout: 60_000 });
    await page.keyboard.press("Escape");
    await page.locator(".empty-title", { hasText: "Ask your documents" }).waitFor({ timeout: 10_000 });
    await expect(page.locator(".facts").textContent()).resolves.toContain("1 document");
  });
});
