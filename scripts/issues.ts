import type { IngestIssue } from "../core/types.ts";
import { failedFiles } from "../ingest/indexer.ts";

/**
 * The closing line about corpus problems: one count of files (a JSONL file with nine bad lines is
 * one file), and the number of problems beside it when they are more.
 */
export function issuesLine(issues: readonly IngestIssue[]): string {
  const files = failedFiles(issues);
  const noun = files === 1 ? "file" : "files";
  const problems = issues.length > files ? ` (${issues.length} problems)` : "";
  return `${files} ${noun} could not be indexed in full${problems}; see above`;
}
