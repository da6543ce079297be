/** Prints the README's configuration table from the settings declared in core/config.ts. */
import { DEFAULTS, PROJECT_ROOT, SETTINGS } from "../core/config.ts";

function shown(v: unknown): string {
  if (v === undefined) return "(unset)";
  if (Array.isArray(v)) return v.length ? v.join(",") : "(none)";
  const s = String(v);
  return s.startsWith(PROJECT_ROOT)
    ? `./${s.slice(PROJECT_ROOT.length + 1)}`
    : s.replace(process.env.HOME ?? "\u0000", "~");
}

console.log("| variable | default | meaning |\n| --- | --- | --- |");
for (const s of SETTINGS) console.log(`| \`${s.env}\` | \`${shown(DEFAULTS[s.key])}\` | ${s.doc} |`);
