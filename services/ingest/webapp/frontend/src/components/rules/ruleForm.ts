// The rule editor's form: the actions it edits one by one (choices, yes/no flags, Fortnox codes),
// the Fortnox field templates, and the conversion of a mapping rule to the form and back. The
// conditions are edited as rows (rules.ts) or, when nested, as JSON.
import { errorText } from "../../api";
import { build, flatten, type FlatConditions } from "../../rules";
import type { MappingRule, RuleActions } from "../../types";

type Pairs = [string, string][];

// The actions the form edits one by one; any other action of the rule is kept as it is.
export const CHOICES: { name: string; label: string; options: { label: string; value: string }[] }[] = [
  {
    name: "document_kind",
    label: "Make in Fortnox",
    options: [
      { label: "An invoice", value: "invoice" },
      { label: "An order", value: "order" },
      { label: "Nothing", value: "none" },
    ],
  },
  {
    name: "trigger",
    label: "When the Shopify order",
    options: [
      { label: "is created", value: "create" },
      { label: "is paid", value: "paid" },
      { label: "is fulfilled", value: "fulfilled" },
    ],
  },
  {
    name: "customer_match",
    label: "Find the customer by",
    options: [
      { label: "Organisation number, else e-mail", value: "organisation_number" },
      { label: "E-mail address", value: "email" },
    ],
  },
  {
    name: "language",
    label: "Document language",
    options: [
      { label: "Swedish", value: "SV" },
      { label: "English", value: "EN" },
    ],
  },
];
export const FLAGS: { name: "bookkeep" | "send_email"; label: string; yes: string; no: string }[] = [
  { name: "bookkeep", label: "Invoices", yes: "Bookkeep them", no: "Leave as drafts" },
  { name: "send_email", label: "E-mail the invoice", yes: "Yes", no: "No" },
];
export const CODES: { name: string; label: string }[] = [
  { name: "terms_of_payment", label: "Terms of payment (Fortnox code)" },
  { name: "our_reference", label: "Our reference" },
  { name: "cost_center", label: "Cost centre (Fortnox code)" },
  { name: "project", label: "Project (Fortnox number)" },
  { name: "price_list", label: "Price list (Fortnox code)" },
];
export const EDITED = new Set<string>([...CHOICES.map((c) => c.name), ...FLAGS.map((f) => f.name), ...CODES.map((c) => c.name), "fields", "customer_fields", "row_fields"]);
export const TEMPLATES: { name: "fields" | "customer_fields" | "row_fields"; title: string; help: string; example: string }[] = [
  { name: "fields", title: "Document fields", help: "Fortnox fields of the invoice or order, e.g. Remarks or YourReference.", example: "Remarks" },
  { name: "customer_fields", title: "Customer fields", help: "Fields of a customer Fortbridge creates, e.g. Phone1.", example: "Phone1" },
  { name: "row_fields", title: "Row fields", help: "Fields of each product row: Description, Unit, CostCenter, Project.", example: "Unit" },
];

export interface Form {
  name: string;
  enabled: boolean;
  conditions: FlatConditions | null; // null: edited as JSON
  conditionsJson: string;
  actions: RuleActions; // the choices and codes, plus actions the form does not edit
  templates: Record<"fields" | "customer_fields" | "row_fields", Pairs>;
  position: "last" | "first";
}

export function formOf(rule: MappingRule | null): Form {
  const actions = rule?.actions ?? {};
  const conditions = rule ? flatten(rule.conditions) : { join: "every" as const, rows: [] };
  return {
    name: rule?.name ?? "",
    enabled: rule?.enabled ?? true,
    conditions,
    conditionsJson: JSON.stringify(rule?.conditions ?? null, null, 2),
    actions,
    templates: {
      fields: Object.entries(actions.fields ?? {}),
      customer_fields: Object.entries(actions.customer_fields ?? {}),
      row_fields: Object.entries(actions.row_fields ?? {}),
    },
    position: "last",
  };
}

export function ruleOf(form: Form): { rule: Record<string, unknown>; jsonError: string | null } {
  let conditions: unknown = null;
  let jsonError: string | null = null;
  if (form.conditions) {
    conditions = build(form.conditions);
  } else {
    try {
      conditions = JSON.parse(form.conditionsJson || "null");
    } catch (error) {
      jsonError = `The conditions are not valid JSON: ${errorText(error)}`;
    }
  }
  const actions: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(form.actions)) {
    if (value !== undefined && value !== "" && !["fields", "customer_fields", "row_fields"].includes(name)) actions[name] = value;
  }
  for (const { name } of TEMPLATES) {
    const pairs = form.templates[name].filter(([field, template]) => field.trim() || template.trim());
    if (pairs.length) actions[name] = Object.fromEntries(pairs.map(([field, template]) => [field.trim(), template]));
  }
  return { rule: { name: form.name, enabled: form.enabled, conditions, actions }, jsonError };
}

// What every card of the form gets: the form, a change of some of its fields, and the message the
// API gave for a field (by its path under mapping_rule.).
export interface FormCardProps {
  form: Form;
  update: (patch: Partial<Form>) => void;
  error: (path: string) => string | undefined;
}
