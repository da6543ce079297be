/**
 * The name an uploaded file is saved under in the corpus folder. Pure: a client's file name in,
 * a safe single path segment out, or a typed error. Only the last segment of what the client sent
 * is kept, so no name reaches outside the folder or into a sub-folder.
 */
import { AppError } from "../core/errors.ts";
import { readerFor, SUPPORTED_EXTENSIONS } from "./readers/index.ts";

/** Bytes a saved name may take (file systems allow 255; room is left for the temp name). */
export const MAX_NAME_BYTES = 200;

/**
 * Cleans a client's file name: the part after the last `/` or `\`, Unicode NFC, control
 * characters and `<>:"|?*` turned into `_`, runs of spaces made one, leading dots and spaces
 * dropped (a hidden file would never be indexed), cut to {@link MAX_NAME_BYTES} keeping the
 * extension.
 *
 * @throws AppError FILE_NAME_INVALID when nothing usable is left; FILE_UNSUPPORTED when the
 * extension is not one the corpus reads.
 */
export function cleanUploadName(raw: string): string {
  const last = raw.split(/[\\/]/).at(-1) ?? "";
  let name = last
    .normalize("NFC")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    .replace(/[\u0000-\u001f\u007f-\u009f<>:"|?*]/g, "_")
    .replace(/\s+/g, " ")
    .replace(/^[.\s]+/, "")
    .replace(/[.\s]+$/, "");
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 ? name.slice(dot) : "";
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    let stem = name.slice(0, name.length - ext.length);
    while (Buffer.byteLength(stem + ext) > MAX_NAME_BYTES) stem = [...stem].slice(0, -1).join("");
    name = stem.trimEnd() + ext;
  }
  if (name === "" || dot === 0 || name.slice(0, name.length - ext.length).trim() === "") {
    throw new AppError("FILE_NAME_INVALID", `the file name "${truncate(raw)}" is empty once cleaned`, {
      field: "name",
    });
  }
  if (!readerFor(name)) {
    const what = ext === "" ? "files without an extension" : `${ext.toLowerCase()} files`;
    throw new AppError(
      "FILE_UNSUPPORTED",
      `${name}: ${what} are not read (supported: ${SUPPORTED_EXTENSIONS.join(", ")})`,
      { field: "name" },
    );
  }
  return name;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
