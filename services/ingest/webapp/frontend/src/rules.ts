// Rule conditions as the form edits them: a flat list joined by "all" or "any" (anything else
// is edited as JSON), and plain-English summaries for the list.
import type { Condition, MappingRule, RuleActions } from "./types";

export const FIELDS: { value: string; label: string; kind: "list" | "text" | "number" }[] = [
  { value: "tags", label: "Order tags", kind: "list" },
  { value: "customer_tags", label: "Customer tags", kind: "list" },
  { value: "payment_gateway", label: "Payment method", kind: "list" },
  { value: "source_name", label: "Sales channel", kind: "text" },
  { value: "billing_country", label: "Billing country", kind: "text" },
  { value: "shipping_country", label: "Shipping country", kind: "text" },
  { value: "currency", label: "Currency", kind: "text" },
  { value: "customer_type", label: "Customer type (company or private)", kind: "text" },
  { value: "financial_status", label: "Payment status", kind: "text" },
  { value: "fulfillment_status", label: "Fulfillment status", kind: "text" },
  { value: "total_price", label: "Order total", kind: "number" },
];

export const OPERATORS: Record<string, { value: string; label: string; many?: boolean }[]> = {
  list: [
    { value: "contains", label: "include" },
    { value: "not_contains", label: "do not include" },
    { value: "contains_any", label: "include any of", many: true },
  ],
  text: [
    { value: "eq", label: "is" },
    { value: "ne", label: "is not" },
    { value: "in", label: "is one of", many: true },
    { value: "not_in", label: "is none of", many: true },
  ],
  number: [
    { value: "eq", label: "equals" },
    { value: "ne", label: "does not equal" },
    { value: "gt", label: "is more than" },
    { value: "gte", label: "is at least" },
    { value: "lt", label: "is less than" },
    { value: "lte", label: "is at most" },
  ],
};

export interface Row {
  field: string;
  op: string;
  value: string; // comma separated for the "one of" operators
}

export interface FlatConditions {
  join: "every" | "all" | "any";
  rows: Row[];
}

export function kindOf(field: string): "list" | "text" | "number" {
  return FIELDS.find((f) => f.value === field)?.kind ?? "text";
}

export function isMany(field: string, op: string): boolean {
  return !!OPERATORS[kindOf(field)].find((o) => o.value === op)?.many;
}

function rowOf(condition: Condition): Row | null {
  if (condition.field === undefined || condition.op === undefined) return null;
  const value = Array.isArray(condition.value) ? condition.value.join(", ") : String(condition.value ?? "");
  return { field: condition.field, op: condition.op, value };
}

// The form's shape of a condition tree, or null when only JSON can show it.
export function flatten(condition: Condition | null): FlatConditions | null {
  if (!condition) return { join: "every", rows: [] };
  const leaf = rowOf(condition);
  if (leaf) return { join: "all", rows: [leaf] };
  for (const join of ["all", "any"] as const) {
    const children = condition[join];
    if (children && !Object.keys(condition).some((k) => k !== join)) {
      const rows = children.map(rowOf);
      if (rows.every((row): row is Row => row !== null)) return { join, rows };
    }
  }
  return null;
}

export function build(flat: FlatConditions): Condition | null {
  if (flat.join === "every" || flat.rows.length === 0) return null;
  const leaves = flat.rows.map((row) => {
    const value: unknown = isMany(row.field, row.op)
      ? row.value.split(",").map((part) => part.trim()).filter(Boolean)
      : kindOf(row.field) === "number"
        ? row.value.trim()
        : row.value.trim();
    return { field: row.field, op: row.op, value };
  });
  return { [flat.join]: leaves } as Condition;
}

export function describeConditions(condition: Condition | null): string {
  const flat = flatten(condition);
  if (!flat) return "Orders matching its conditions";
  if (flat.join === "every" || flat.rows.length === 0) return "Every order";
  const parts = flat.rows.map((row) => {
    const field = FIELDS.find((f) => f.value === row.field)?.label ?? row.field;
    const op = OPERATORS[kindOf(row.field)].find((o) => o.value === row.op)?.label ?? row.op;
    return `${field.toLowerCase()} ${op} ${row.value}`;
  });
  return `Orders whose ${parts.join(flat.join === "all" ? " and " : " or ")}`;
}

export function describeActions(actions: RuleActions): string {
  const parts: string[] = [];
  if (actions.document_kind) parts.push(actions.document_kind === "none" ? "no Fortnox document" : `a Fortnox ${actions.document_kind}`);
  if (actions.trigger) parts.push(`made when ${{ create: "created", paid: "paid", fulfilled: "fulfilled" }[actions.trigger] ?? actions.trigger}`);
  if (actions.bookkeep !== undefined) parts.push(actions.bookkeep ? "bookkept" : "as a draft");
  if (actions.send_email) parts.push("e-mailed");
  for (const [name, label] of [
    ["terms_of_payment", "terms"],
    ["cost_center", "cost centre"],
    ["project", "project"],
    ["our_reference", "our reference"],
    ["price_list", "price list"],
  ] as const) {
    if (actions[name]) parts.push(`${label} ${actions[name]}`);
  }
  const templates = Object.keys(actions.fields ?? {}).length + Object.keys(actions.customer_fields ?? {}).length + Object.keys(actions.row_fields ?? {}).length;
  if (templates) parts.push(`${templates} field template${templates === 1 ? "" : "s"}`);
  return parts.length ? parts.join(", ") : "nothing changed from the settings";
}

export function ruleBody(rule: MappingRule): Record<string, unknown> {
  return { name: rule.name, enabled: rule.enabled, conditions: rule.conditions, actions: rule.actions };
}
