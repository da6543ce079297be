/**
 * The date-range control above the question box: from/to dates sent with each question as
 * `filters`, plus "Last 7 days" counted back from the newest document (a news reader's question).
 */
import type { DateFilter } from "../../core/types.ts";
import { formatDate } from "./answer-text.ts";

export interface DateRange {
  /** `{ filters }` to spread into a question, or nothing when no date is set. */
  filters(): { filters?: DateFilter };
  /** The corpus's oldest and newest dates, which bound the inputs and anchor "Last 7 days". */
  setBounds(range: { from: string; to: string } | null): void;
}

function input(root: HTMLElement, selector: string): HTMLInputElement {
  const node = root.querySelector(selector);
  if (!(node instanceof HTMLInputElement)) throw new Error(`the date range is missing ${selector}`);
  return node;
}

/** `iso` moved by `days` days, as YYYY-MM-DD. */
function addDays(iso: string, days: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function createDateRange(root: HTMLDetailsElement): DateRange {
  const from = input(root, "#range-from");
  const to = input(root, "#range-to");
  const label = root.querySelector(".range-label") ?? root;
  const clear = root.querySelector<HTMLButtonElement>("#range-clear");
  const lastWeek = root.querySelector<HTMLButtonElement>("#range-week");
  let newest: string | undefined;

  const sync = () => {
    // Keep the range the right way round: the other end bounds each input.
    to.min = from.value || from.min;
    from.max = to.value || to.max;
    const a = from.value;
    const b = to.value;
    label.textContent =
      a && b
        ? `${formatDate(a)} – ${formatDate(b)}`
        : a
          ? `From ${formatDate(a)}`
          : b
            ? `Until ${formatDate(b)}`
            : "All dates";
    root.classList.toggle("range-set", a !== "" || b !== "");
    if (clear) clear.hidden = a === "" && b === "";
  };
  from.addEventListener("change", sync);
  to.addEventListener("change", sync);
  clear?.addEventListener("click", () => {
    from.value = "";
    to.value = "";
    sync();
  });
  lastWeek?.addEventListener("click", () => {
    const end = newest ?? new Date().toISOString().slice(0, 10);
    from.value = addDays(end, -6);
    to.value = end;
    sync();
    root.open = false;
  });
  sync();

  return {
    filters() {
      const f: DateFilter = {};
      if (from.value) f.from = from.value;
      if (to.value) f.to = to.value;
      if (f.from && f.to && f.from > f.to) [f.from, f.to] = [f.to, f.from];
      return f.from || f.to ? { filters: f } : {};
    },
    setBounds(range) {
      newest = range?.to;
      from.min = range?.from ?? "";
      from.max = range?.to ?? "";
      to.min = range?.from ?? "";
      to.max = range?.to ?? "";
      sync();
    },
  };
}
