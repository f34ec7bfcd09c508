// Display helpers: money with its currency, dates, status badges.
export function money(amount: string | null | undefined, currency?: string | null): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  const [whole, fraction = ""] = amount.split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, " ");
  const cents = (fraction + "00").slice(0, 2);
  return `${sign}${digits}.${cents}${currency ? ` ${currency}` : ""}`;
}

// "1 field needs" or "3 fields need": how a form the API refused says so.
export function fieldsNeed(count: number): string {
  return `${count} field${count === 1 ? " needs" : "s need"}`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

export type Tone = "success" | "critical" | "warning" | "attention" | "info" | undefined;

export const STATUS_LABEL: Record<string, { label: string; tone: Tone }> = {
  synced: { label: "Synced", tone: "success" },
  pending: { label: "Waiting", tone: "info" },
  failed: { label: "Failed", tone: "critical" },
  needs_reconnection: { label: "Waiting for Fortnox", tone: "warning" },
  skipped: { label: "Skipped", tone: undefined },
  waiting_on_billing: { label: "Waiting on billing", tone: "warning" },
};

export function statusOf(status: string): { label: string; tone: Tone } {
  return STATUS_LABEL[status] ?? { label: status, tone: undefined };
}
