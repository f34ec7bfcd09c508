// Create or edit a rule: which orders (conditions), what changes (actions), Fortnox fields filled
// from the order (templates, as plain text), and a preview on a real order before saving.
import {
  Banner,
  BlockStack,
  Button,
  Card,
  Checkbox,
  ChoiceList,
  FormLayout,
  InlineGrid,
  InlineStack,
  Layout,
  Page,
  Select,
  Text,
  TextField,
} from "@shopify/polaris";
import { useEffect, useState } from "react";
import { ApiError, errorText } from "../api";
import { OrderPicker } from "../components/OrderPicker";
import { PreviewDocument } from "../components/PreviewDocument";
import { useApp } from "../context";
import { useLoad } from "../hooks";
import { FIELDS, OPERATORS, build, flatten, isMany, kindOf, type FlatConditions, type Row } from "../rules";
import { useRoute } from "../router";
import type { MappingRule, Preview, RuleActions } from "../types";

const RULES = "/admin/api/integrations/fortnox/mapping_rules";
type Pairs = [string, string][];

// The actions the form edits one by one; any other action of the rule is kept as it is.
const CHOICES: { name: string; label: string; options: { label: string; value: string }[] }[] = [
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
const FLAGS: { name: "bookkeep" | "send_email"; label: string; yes: string; no: string }[] = [
  { name: "bookkeep", label: "Invoices", yes: "Bookkeep them", no: "Leave as drafts" },
  { name: "send_email", label: "E-mail the invoice", yes: "Yes", no: "No" },
];
const CODES: { name: string; label: string }[] = [
  { name: "terms_of_payment", label: "Terms of payment (Fortnox code)" },
  { name: "our_reference", label: "Our reference" },
  { name: "cost_center", label: "Cost centre (Fortnox code)" },
  { name: "project", label: "Project (Fortnox number)" },
  { name: "price_list", label: "Price list (Fortnox code)" },
];
const EDITED = new Set<string>([...CHOICES.map((c) => c.name), ...FLAGS.map((f) => f.name), ...CODES.map((c) => c.name), "fields", "customer_fields", "row_fields"]);
const TEMPLATES: { name: "fields" | "customer_fields" | "row_fields"; title: string; help: string; example: string }[] = [
  { name: "fields", title: "Document fields", help: "Fortnox fields of the invoice or order, e.g. Remarks or YourReference.", example: "Remarks" },
  { name: "customer_fields", title: "Customer fields", help: "Fields of a customer Fortbridge creates, e.g. Phone1.", example: "Phone1" },
  { name: "row_fields", title: "Row fields", help: "Fields of each product row: Description, Unit, CostCenter, Project.", example: "Unit" },
];

interface Form {
  name: string;
  enabled: boolean;
  conditions: FlatConditions | null; // null: edited as JSON
  conditionsJson: string;
  actions: RuleActions; // the choices and codes, plus actions the form does not edit
  templates: Record<"fields" | "customer_fields" | "row_fields", Pairs>;
  position: "last" | "first";
}

function formOf(rule: MappingRule | null): Form {
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

function ruleOf(form: Form): { rule: Record<string, unknown>; jsonError: string | null } {
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

export function RuleEditor({ ruleId }: { ruleId: number | null }) {
  const { api } = useApp();
  const { navigate } = useRoute();
  const loaded = useLoad(
    async () => (ruleId === null ? null : (await api.get<{ mapping_rule: MappingRule }>(`${RULES}/${ruleId}.json`)).mapping_rule),
    [ruleId],
  );
  const [form, setForm] = useState<Form | null>(ruleId === null ? formOf(null) : null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [orderId, setOrderId] = useState("");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewing, setPreviewing] = useState(false);

  useEffect(() => {
    if (loaded.data) setForm(formOf(loaded.data));
  }, [loaded.data]);

  const title = ruleId === null ? "Create rule" : `Edit ${loaded.data?.name ?? "rule"}`;
  if (!form) {
    return (
      <Page title={title} backAction={{ content: "Rules", url: "/rules" }}>
        {loaded.error ? (
          <Banner tone="critical" title="The rule could not be loaded">
            <p>{loaded.error}</p>
          </Banner>
        ) : (
          <Card>
            <Text as="p">Loading…</Text>
          </Card>
        )}
      </Page>
    );
  }

  const update = (patch: Partial<Form>) => setForm({ ...form, ...patch });
  const setAction = (name: string, value: unknown) => update({ actions: { ...form.actions, [name]: value } });
  const error = (path: string) => errors[path];
  const conditionErrors = Object.entries(errors).filter(([path]) => path.startsWith("conditions"));

  const problems = (caught: unknown, what: string) => {
    if (caught instanceof ApiError && caught.problems.length) {
      setErrors(Object.fromEntries(caught.problems.map((p) => [p.path.replace(/^mapping_rule\./, ""), p.message])));
      setFailure(`${what}: ${caught.problems.length} field${caught.problems.length === 1 ? " needs" : "s need"} fixing (see below).`);
    } else {
      setFailure(`${what}: ${errorText(caught)}`);
    }
  };

  const body = () => {
    const { rule, jsonError } = ruleOf(form);
    if (jsonError) {
      setErrors({ conditions: jsonError });
      throw new Error(jsonError);
    }
    return rule;
  };

  const runPreview = async () => {
    setPreviewing(true);
    setErrors({});
    setFailure(null);
    try {
      const request: Record<string, unknown> = { order_id: orderId, mapping_rule: body() };
      if (ruleId !== null) request.rule_id = ruleId;
      else if (form.position === "first") request.position = 1;
      else request.position = 1_000_000; // last, as a new rule is saved
      setPreview(await api.post<Preview>(`${RULES}/preview.json`, request));
    } catch (caught) {
      setPreview(null);
      problems(caught, "The preview could not be made");
    } finally {
      setPreviewing(false);
    }
  };

  const save = async () => {
    setSaving(true);
    setErrors({});
    setFailure(null);
    try {
      const mapping_rule = body();
      if (ruleId === null) {
        await api.post(`${RULES}.json`, { mapping_rule, ...(form.position === "first" ? { position: 1 } : {}) });
      } else {
        await api.put(`${RULES}/${ruleId}.json`, { mapping_rule });
      }
      navigate("/rules");
    } catch (caught) {
      problems(caught, "The rule was not saved");
    } finally {
      setSaving(false);
    }
  };

  const flat = form.conditions;
  const setRows = (rows: Row[]) => flat && update({ conditions: { ...flat, rows } });
  const otherActions = Object.keys(form.actions).filter((name) => !EDITED.has(name));

  return (
    <Page
      title={title}
      backAction={{ content: "Rules", url: "/rules" }}
      primaryAction={{ content: "Save rule", onAction: () => void save(), loading: saving, disabled: !form.name.trim() }}
    >
      <Layout>
        <Layout.Section>
          <BlockStack gap="400">
            {failure && (
              <Banner tone="critical" onDismiss={() => setFailure(null)}>
                <p>{failure}</p>
              </Banner>
            )}
            <Card>
              <FormLayout>
                <TextField label="Name" value={form.name} onChange={(v) => update({ name: v })} autoComplete="off" error={error("name")} />
                <Checkbox label="Enabled" checked={form.enabled} onChange={(v) => update({ enabled: v })} />
                {ruleId === null && (
                  <Select
                    label="Try it"
                    options={[
                      { label: "After the existing rules", value: "last" },
                      { label: "Before the existing rules", value: "first" },
                    ]}
                    value={form.position}
                    onChange={(v) => update({ position: v as Form["position"] })}
                  />
                )}
              </FormLayout>
            </Card>
            <Card>
              <BlockStack gap="300">
                <Text as="h2" variant="headingMd">
                  Which orders
                </Text>
                {flat ? (
                  <>
                    <ChoiceList
                      title="The rule applies to"
                      choices={[
                        { label: "Every order", value: "every" },
                        { label: "Orders that match all of these", value: "all" },
                        { label: "Orders that match any of these", value: "any" },
                      ]}
                      selected={[flat.join]}
                      onChange={([join]) =>
                        update({
                          conditions: {
                            join: join as FlatConditions["join"],
                            rows: join !== "every" && flat.rows.length === 0 ? [{ field: "tags", op: "contains", value: "" }] : flat.rows,
                          },
                        })
                      }
                    />
                    {flat.join !== "every" &&
                      flat.rows.map((row, index) => (
                        <fieldset key={index} style={{ border: 0, padding: 0, margin: 0 }}>
                          <legend>
                            <Text as="span" visuallyHidden>{`Condition ${index + 1}`}</Text>
                          </legend>
                          <InlineGrid columns={{ xs: 1, md: ["oneThird", "oneThird", "oneThird"] }} gap="200" alignItems="end">
                            <Select
                              label={`Condition ${index + 1}: field`}
                              options={FIELDS.map(({ value, label }) => ({ value, label }))}
                              value={row.field}
                              onChange={(field) =>
                                setRows(flat.rows.map((r, i) => (i === index ? { ...r, field, op: OPERATORS[kindOf(field)][0].value } : r)))
                              }
                            />
                            <Select
                              label="Test"
                              options={OPERATORS[kindOf(row.field)]}
                              value={row.op}
                              onChange={(op) => setRows(flat.rows.map((r, i) => (i === index ? { ...r, op } : r)))}
                            />
                            <TextField
                              label={isMany(row.field, row.op) ? "Values (comma separated)" : "Value"}
                              value={row.value}
                              onChange={(value) => setRows(flat.rows.map((r, i) => (i === index ? { ...r, value } : r)))}
                              autoComplete="off"
                              error={error(`conditions.${flat.join}[${index}].value`) ?? error(`conditions.${flat.join}[${index}]`)}
                              connectedRight={
                                <Button
                                  onClick={() => setRows(flat.rows.filter((_, i) => i !== index))}
                                  accessibilityLabel={`Remove condition ${index + 1}`}
                                >
                                  Remove
                                </Button>
                              }
                            />
                          </InlineGrid>
                        </fieldset>
                      ))}
                    {flat.join !== "every" && (
                      <InlineStack gap="200">
                        <Button onClick={() => setRows([...flat.rows, { field: "tags", op: "contains", value: "" }])}>Add condition</Button>
                        <Button
                          variant="plain"
                          onClick={() => {
                            const { rule } = ruleOf(form);
                            update({ conditions: null, conditionsJson: JSON.stringify(rule.conditions, null, 2) });
                          }}
                        >
                          Edit as JSON (nested conditions)
                        </Button>
                      </InlineStack>
                    )}
                  </>
                ) : (
                  <TextField
                    label="Conditions (JSON)"
                    value={form.conditionsJson}
                    onChange={(v) => update({ conditionsJson: v })}
                    multiline={6}
                    autoComplete="off"
                    monospaced
                    helpText={`{"all": [...]}, {"any": [...]}, {"not": {...}} or {"field", "op", "value"}, as Fortbridge's documentation on rules describes.`}
                  />
                )}
                {conditionErrors.map(([path, message]) => (
                  <Text as="p" tone="critical" key={path}>
                    {`${path}: ${message}`}
                  </Text>
                ))}
              </BlockStack>
            </Card>
            <Card>
              <BlockStack gap="300">
                <Text as="h2" variant="headingMd">
                  What changes for those orders
                </Text>
                <Text as="p" tone="subdued">
                  Anything left at "As in the settings" keeps the shop's setting.
                </Text>
                <FormLayout>
                  <InlineGrid columns={{ xs: 1, md: 2 }} gap="300">
                    {CHOICES.map((choice) => (
                      <Select
                        key={choice.name}
                        label={choice.label}
                        options={[{ label: "As in the settings", value: "" }, ...choice.options]}
                        value={String(form.actions[choice.name] ?? "")}
                        onChange={(v) => setAction(choice.name, v || undefined)}
                        error={error(`actions.${choice.name}`)}
                      />
                    ))}
                    {FLAGS.map((flag) => (
                      <Select
                        key={flag.name}
                        label={flag.label}
                        options={[
                          { label: "As in the settings", value: "" },
                          { label: flag.yes, value: "yes" },
                          { label: flag.no, value: "no" },
                        ]}
                        value={form.actions[flag.name] === undefined ? "" : form.actions[flag.name] ? "yes" : "no"}
                        onChange={(v) => setAction(flag.name, v === "" ? undefined : v === "yes")}
                        error={error(`actions.${flag.name}`)}
                      />
                    ))}
                    {CODES.map((code) => (
                      <TextField
                        key={code.name}
                        label={code.label}
                        value={String(form.actions[code.name] ?? "")}
                        onChange={(v) => setAction(code.name, v || undefined)}
                        autoComplete="off"
                        error={error(`actions.${code.name}`)}
                      />
                    ))}
                  </InlineGrid>
                </FormLayout>
                {otherActions.length > 0 && (
                  <Text as="p" tone="subdued">
                    {`Also kept as they are: ${otherActions.map((name) => `${name} = ${JSON.stringify(form.actions[name])}`).join("; ")}.`}
                  </Text>
                )}
              </BlockStack>
            </Card>
            <Card>
              <BlockStack gap="400">
                <BlockStack gap="100">
                  <Text as="h2" variant="headingMd">
                    Fortnox fields from the order
                  </Text>
                  <Text as="p" tone="subdued">
                    Each template is text with placeholders for the order's values, written as Fortbridge's
                    documentation on rules describes. They are checked when you preview or save.
                  </Text>
                </BlockStack>
                {TEMPLATES.map((group) => (
                  <fieldset key={group.name} style={{ border: 0, padding: 0, margin: 0 }}>
                    <legend>
                      <Text as="span" variant="headingSm">
                        {group.title}
                      </Text>
                    </legend>
                    <BlockStack gap="200">
                      <Text as="p" tone="subdued" variant="bodySm">
                        {group.help}
                      </Text>
                      {form.templates[group.name].map(([field, template], index) => (
                        <InlineGrid key={index} columns={{ xs: 1, md: ["oneThird", "twoThirds"] }} gap="200" alignItems="start">
                          <TextField
                            label="Fortnox field"
                            value={field}
                            placeholder={group.example}
                            onChange={(v) =>
                              update({
                                templates: { ...form.templates, [group.name]: form.templates[group.name].map((p, i) => (i === index ? [v, p[1]] : p)) },
                              })
                            }
                            autoComplete="off"
                          />
                          <TextField
                            label={`Template for ${field || "this field"}`}
                            value={template}
                            onChange={(v) =>
                              update({
                                templates: { ...form.templates, [group.name]: form.templates[group.name].map((p, i) => (i === index ? [p[0], v] : p)) },
                              })
                            }
                            autoComplete="off"
                            monospaced
                            error={error(`actions.${group.name}.${field}`) ?? error(`actions.${group.name}`)}
                            connectedRight={
                              <Button
                                onClick={() =>
                                  update({ templates: { ...form.templates, [group.name]: form.templates[group.name].filter((_, i) => i !== index) } })
                                }
                                accessibilityLabel={`Remove the template for ${field || "this field"}`}
                              >
                                Remove
                              </Button>
                            }
                          />
                        </InlineGrid>
                      ))}
                      <InlineStack>
                        <Button onClick={() => update({ templates: { ...form.templates, [group.name]: [...form.templates[group.name], ["", ""]] } })}>
                          {`Add ${group.title.toLowerCase().replace(/s$/, "")}`}
                        </Button>
                      </InlineStack>
                    </BlockStack>
                  </fieldset>
                ))}
              </BlockStack>
            </Card>
            <InlineStack align="end" gap="200">
              <Button url="/rules">Cancel</Button>
              <Button variant="primary" onClick={() => void save()} loading={saving} disabled={!form.name.trim()}>
                Save rule
              </Button>
            </InlineStack>
          </BlockStack>
        </Layout.Section>
        <Layout.Section variant="oneThird">
          <Card>
            <BlockStack gap="300">
              <Text as="h2" variant="headingMd">
                Preview on an order
              </Text>
              <Text as="p" tone="subdued">
                What this rule, as it is now in the form, would make of a real order, among your other rules.
                Nothing is saved or sent.
              </Text>
              <OrderPicker value={orderId} onChange={setOrderId} />
              <InlineStack>
                <Button onClick={() => void runPreview()} loading={previewing} disabled={!orderId || !form.name.trim()}>
                  Preview
                </Button>
              </InlineStack>
              {preview && <PreviewDocument preview={preview} heading="Result" />}
            </BlockStack>
          </Card>
        </Layout.Section>
      </Layout>
    </Page>
  );
}
