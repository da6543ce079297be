import { describe, expect, it } from "vitest";
import { cleanUploadName, MAX_NAME_BYTES } from "../../ingest/upload-name.ts";

describe("the name an upload is saved under", () => {
  it.each([
    ["report.pdf", "report.pdf"],
    ["Annual Report  2024.PDF", "Annual Report 2024.PDF"],
    ["../../etc/passwd.txt", "passwd.txt"],
    ["C:\\Users\\me\\notes.md", "notes.md"],
    ["/abs/path/to/a.docx", "a.docx"],
    [".hidden.txt", "hidden.txt"],
    ["...txt.md", "txt.md"],
    ["a\u0000b\u001fc.txt", "a_b_c.txt"],
    ['what?<is>"this"|*:.html', "what__is__this____.html"],
    ["  spaced out .txt  ", "spaced out .txt"],
    ["Cafe\u0301.txt", "Café.txt"],
    ["trailing dots.txt...", "trailing dots.txt"],
  ])("saves %j as %j", (raw, saved) => {
    expect(cleanUploadName(raw)).toBe(saved);
  });

  it.each([
    ["", "FILE_NAME_INVALID"],
    ["../..", "FILE_NAME_INVALID"],
    ["dir/", "FILE_NAME_INVALID"],
    ["....", "FILE_NAME_INVALID"],
    [".txt", "FILE_UNSUPPORTED"],
    ["archive.zip", "FILE_UNSUPPORTED"],
    ["README", "FILE_UNSUPPORTED"],
  ])("refuses %j with %s", (raw, code) => {
    expect(() => cleanUploadName(raw)).toThrow(expect.objectContaining({ code }));
  });

  it("cuts a long name to the byte limit, keeping the extension and whole characters", () => {
    const saved = cleanUploadName(`${"é".repeat(300)}.pdf`);
    expect(Buffer.byteLength(saved)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(saved).toBe(`${"é".repeat((MAX_NAME_BYTES - 4) / 2)}.pdf`);
  });
});
