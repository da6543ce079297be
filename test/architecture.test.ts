/**
 * The import graph the folders promise: `core/` at the bottom, importing no other folder of the
 * project (its storage is reached only through the port in core/backend.ts); the transport in
 * `server/` importing no command-line entry of `scripts/`.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../core/config.ts";

function sources(dir: string): string[] {
  return readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
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

describe("the import graph", () => {
  it("reads import specifiers of every form", () => {
    expect(importedFolders("backends/select.ts").map((i) => i.folder)).toEqual(
      expect.arrayContaining(["core", "embeddings", "backends"]),
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

  it("loads an optional backend only when it is chosen: no module outside it imports it statically", () => {
    const adapterOf = (file: string) => file.split(path.sep).slice(0, 2).join("/");
    const optional = (target: string) =>
      target.startsWith("backends/") && !target.startsWith("backends/embedded/");
    const files = ["core", "embeddings", "server", "eval", "scripts", "backends"].flatMap(sources);
    const eager = files.flatMap((f) =>
      importedTargets(f)
        .filter((t) => optional(t.target) && t.target !== "backends/select.ts")
        .filter((t) => !(optional(f) && adapterOf(f) === adapterOf(t.target)))
        .map((t) => `${f} imports ${t.specifier}`),
    );
    expect(eager).toEqual([]);
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
