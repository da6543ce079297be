/**
 * The import graph the folders promise: `core/` at the bottom, importing no other folder of the
 * project (its storage is reached only through the port in core/backend.ts) and without cycles;
 * the adapters (`embeddings/`, `llm/`, each backend in `backends/`) importing only `core/`, so
 * each is replaceable alone; `ingest/` handed its writer rather than importing a backend; the
 * transport in `server/` importing no command-line entry of `scripts/`.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../core/config.ts";

function sources(dir: string): string[] {
  return readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.split(path.sep).includes("node_modules"))
    .map((f) => path.join(dir, f));
}

/** Every project file a file imports (static, type-only and dynamic imports, re-exports). */
function importedTargets(file: string): { specifier: string; target: string }[] {
  const text = readFileSync(path.join(PROJECT_ROOT, file), "utf8");
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)].map(
    (m) => m[1]!,
  );
  return specifiers
    .filter((s) => s.startsWith("."))
    .map((specifier) => ({
      specifier,
      target: path.relative(PROJECT_ROOT, path.resolve(PROJECT_ROOT, path.dirname(file), specifier)),
    }));
}

/** Every project folder a file imports from. */
function importedFolders(file: string): { specifier: string; folder: string }[] {
  return importedTargets(file).map((t) => ({ specifier: t.specifier, folder: t.target.split(path.sep)[0]! }));
}

/** The part a file belongs to: its top folder, or `backends/<name>` for a backend's files. */
function partOf(file: string): string {
  const [top, second] = file.split(path.sep);
  return top === "backends" && second !== undefined && !second.endsWith(".ts") ? `backends/${second}` : top!;
}

/** `file imports specifier` for each import of the files in `dirs` that leaves its part for a part not allowed. */
function importsOutside(dirs: readonly string[], allowed: readonly string[]): string[] {
  return dirs.flatMap(sources).flatMap((f) =>
    importedTargets(f)
      .filter((t) => partOf(t.target) !== partOf(f) && !allowed.includes(partOf(t.target)))
      .map((t) => `${f} imports ${t.specifier}`),
  );
}

/** The cycles of a directed graph, each as the nodes around it. */
function findCycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === "open") found.push(stack.slice(stack.indexOf(next)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return found;
}

/** The import cycles among the files of `dir`. */
function cycles(dir: string): string[][] {
  const files = sources(dir);
  return findCycles(
    new Map(
      files.map((f) => [
        f,
        importedTargets(f)
          .map((t) => t.target)
          .filter((t) => files.includes(t)),
      ]),
    ),
  );
}

describe("the import graph", () => {
  it("reads import specifiers of every form", () => {
    expect(importedFolders("backends/select.ts").map((i) => i.folder)).toEqual(
      expect.arrayContaining(["core", "backends"]),
    );
  });

  it("has core/ import nothing outside core/", () => {
    const files = sources("core");
    expect(files.length).toBeGreaterThan(20);
    const outside = files.flatMap((f) =>
      importedFolders(f)
        .filter((i) => i.folder !== "core")
        .map((i) => `${f} imports ${i.specifier}`),
    );
    expect(outside).toEqual([]);
  });

  it("has no import cycle among the files of core/", () => {
    expect(cycles("core")).toEqual([]);
  });

  it.each([
    { graph: { a: ["b"], b: ["c"], c: [] }, expected: [] },
    { graph: { a: ["b"], b: ["a"] }, expected: [["a", "b"]] },
    { graph: { a: ["b"], b: ["c"], c: ["b"], d: ["d"] }, expected: [["b", "c"], ["d"]] },
  ])("finds the cycles of $graph", ({ graph, expected }) => {
    expect(findCycles(new Map(Object.entries(graph)))).toEqual(expected);
  });

  it("counts each backend as its own part, and backends/select.ts as the chooser above them", () => {
    expect(partOf(path.join("backends", "weaviate", "writer.ts"))).toBe("backends/weaviate");
    expect(partOf(path.join("backends", "select.ts"))).toBe("backends");
  });

  it.each([
    { part: "embeddings" },
    { part: "llm" },
    { part: "backends/embedded" },
    { part: "backends/weaviate" },
  ])("has the adapters in $part import only core/", ({ part }) => {
    expect(sources(part).length).toBeGreaterThan(1);
    expect(importsOutside([part], ["core"])).toEqual([]);
  });

  it("has ingest/ import only core/: the index build is handed its writer", () => {
    expect(sources("ingest").length).toBeGreaterThan(5);
    expect(importsOutside(["ingest"], ["core"])).toEqual([]);
  });

  it("loads an optional backend only when it is chosen: no module outside it imports it statically", () => {
    const adapterOf = (file: string) => file.split(path.sep).slice(0, 2).join("/");
    const optional = (target: string) =>
      target.startsWith("backends/") && !target.startsWith("backends/embedded/");
    const files = ["core", "embeddings", "ingest", "llm", "server", "eval", "scripts", "backends"].flatMap(
      sources,
    );
    const eager = files.flatMap((f) =>
      importedTargets(f)
        .filter((t) => optional(t.target) && t.target !== "backends/select.ts")
        .filter((t) => !(optional(f) && adapterOf(f) === adapterOf(t.target)))
        .map((t) => `${f} imports ${t.specifier}`),
    );
    expect(eager).toEqual([]);
  });

  it("reads the environment in one place: of the parts, only core/config.ts touches process.env", () => {
    const files = ["core", "server", "ingest", "embeddings", "llm", "backends"].flatMap(sources);
    const readers = files.filter((f) =>
      /\bprocess\.env\b/.test(readFileSync(path.join(PROJECT_ROOT, f), "utf8")),
    );
    expect(readers).toEqual([path.join("core", "config.ts")]);
  });

  it("hands each part its slices of the configuration: only the server's start takes the whole Config", () => {
    const files = ["core", "server", "ingest", "embeddings", "llm", "backends"].flatMap(sources);
    const whole = files.filter((f) =>
      /\bimport\s+(type\s+)?\{[^}]*\bConfig\b[^}]*\}\s*from\s*["'][^"']*config\.ts["']/.test(
        readFileSync(path.join(PROJECT_ROOT, f), "utf8"),
      ),
    );
    // start.ts wires every part (embedder, backend, generator, engine, transports), each given its
    // slice; run.ts is the process around it.
    expect(whole.sort()).toEqual([path.join("server", "run.ts"), path.join("server", "start.ts")]);
  });

  it("has server/ import nothing from scripts/, eval/ or bench/", () => {
    const files = sources("server");
    expect(files.length).toBeGreaterThan(5);
    const upward = files.flatMap((f) =>
      importedFolders(f)
        .filter((i) => ["scripts", "eval", "bench"].includes(i.folder))
        .map((i) => `${f} imports ${i.specifier}`),
    );
    expect(upward).toEqual([]);
  });
});
