/**
 * An incremental parser for `text/event-stream` bodies (the fallback transport). Pure: decoded
 * text goes in, whole events come out, however the text was split into chunks.
 */
export interface SseEvent {
  event: string;
  data: string;
}

export interface SseParser {
  push(text: string): void;
  /** Flushes an event left without its closing blank line. */
  end(): void;
}

const NEWLINE = /\r\n|\r|\n/g;

export function createSseParser(onEvent: (e: SseEvent) => void): SseParser {
  let buffer = "";
  let event = "";
  let data: string[] = [];

  const dispatch = () => {
    if (data.length > 0) onEvent({ event: event || "message", data: data.join("\n") });
    event = "";
    data = [];
  };

  const line = (text: string) => {
    if (text === "") return dispatch();
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  };

  return {
    push(text) {
      buffer += text;
      let from = 0;
      NEWLINE.lastIndex = 0;
      for (let m = NEWLINE.exec(buffer); m; m = NEWLINE.exec(buffer)) {
        // A "\r" at the very end may be the first half of "\r\n": wait for the next chunk.
        if (m[0] === "\r" && m.index === buffer.length - 1) break;
        line(buffer.slice(from, m.index));
        from = m.index + m[0].length;
      }
      buffer = buffer.slice(from);
    },
    end() {
      if (buffer !== "") line(buffer.replace(/\r$/, ""));
      buffer = "";
      dispatch();
    },
  };
}
