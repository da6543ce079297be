/**
 * Upload to answerable, measured in the page: a real server on a temp corpus, the built page in
 * headless Chromium (Debian's `chromium`), and for each run a new file dropped on the page. Two
 * times per run, from the drop: until the Documents panel lists the file as answerable (its
 * documents are in the served index; the panel reads the list every 400 ms, so this is up to
 * 400 ms late), and until an answer citing it has been written on the page.
 *
 *   npx tsx bench/upload-page.ts [--runs 5] [--pdf FILE]
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { chromium, type Page } from "playwright-core";
import { openBackendWriter } from "../backends/select.ts";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { buildIndex } from "../ingest/indexer.ts";
import { buildClient } from "../scripts/build-client.ts";
import { startServer } from "../server/start.ts";
import { percentiles } from "./stats.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    pdf: {
      type: "string",
      default: path.join(PROJECT_ROOT, "test", "fixtures", "documents", "harbour-report.pdf"),
    },
  },
});
const runs = Number(values.runs);
const seed = path.join(PROJECT_ROOT, "..", "shared", "seed", "000_1819b03cfa5cc3af.txt");

async function drop(page: Page, name: string, bytes: Buffer): Promise<void> {
  const transfer = await page.evaluateHandle(
    ({ name, base64 }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name));
      return dt;
    },
    { name, base64: bytes.toString("base64") },
  );
  await page.dispatchEvent("body", "drop", { dataTransfer: transfer });
}

async function main(): Promise<void> {
  await buildClient();
  const root = await mkdtemp(path.join(os.tmpdir(), "citeline-upload-bench-"));
  const corpusDir = path.join(root, "corpus");
  await mkdir(corpusDir);
  await copyFile(seed, path.join(corpusDir, path.basename(seed)));
  const config = loadConfig({
    host: "127.0.0.1",
    port: 0,
    corpusDir,
    indexDir: path.join(root, "index"),
    logLevel: "warn",
  });
  const embedder = await createEmbedder(config);
  await buildIndex({ openWriter: openBackendWriter, config, embedder });
  const server = await startServer(config, { embedder, log: () => {} });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  const pdf = await readFile(values.pdf);
  const listed: Record<string, number[]> = { text: [], pdf: [] };
  const answered: Record<string, number[]> = { text: [], pdf: [] };
  try {
    for (let i = 0; i < runs; i++) {
      for (const kind of ["text", "pdf"] as const) {
        const word = `Quorvex${i}${kind}`;
        const name = kind === "text" ? `${word}.txt` : `harbour-${i}.pdf`;
        const bytes =
          kind === "text"
            ? Buffer.from(
                `${word} ferry timetable\n\nThe ${word} ferry leaves the quay at seven every morning.`,
              )
            : pdf;
        const question =
          kind === "text"
            ? `When does the ${word} ferry leave?`
            : "How much silt did the dredging of the east basin remove?";
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(server.url);
        await page.locator('#conn[data-state="connected"]').waitFor();
        const t0 = performance.now();
        await drop(page, name, bytes);
        await page
          .locator(`#docs-dialog li[data-name="${name}"][data-status="indexed"]`)
          .waitFor({ timeout: 300_000 });
        listed[kind]!.push(performance.now() - t0);
        await page.keyboard.press("Escape");
        await page.locator("#question").fill(question);
        await page.locator("#question").press("Enter");
        await page.locator('.turn:last-child[data-status="done"]').waitFor({ timeout: 60_000 });
        answered[kind]!.push(performance.now() - t0);
        await context.close();
        // Leave the index as it was, so every run adds a file to the same corpus.
        await fetch(`${server.url}/api/documents?name=${encodeURIComponent(name)}&wait=true`, {
          method: "DELETE",
        });
      }
    }
  } finally {
    await browser.close();
    await server.close(0);
    await embedder.dispose();
    await rm(root, { recursive: true, force: true });
  }
  for (const kind of ["text", "pdf"] as const) {
    const range = (xs: number[]) => {
      const p = percentiles(xs);
      return `p50 ${p.p50.toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
    };
    const what = kind === "text" ? "a 3-line .txt" : `${path.basename(values.pdf)} (${pdf.length} bytes)`;
    console.log(
      `${what}: drop → listed answerable ${range(listed[kind]!)}; drop → answer on the page ${range(answered[kind]!)}; ${runs} runs`,
    );
  }
}

await main();
