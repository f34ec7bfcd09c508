// Settings: the shop's defaults for every order no rule changes. A draft can be previewed on a
// real order (saved beside draft, and what differs) before it is saved; saving sends only the
// fields that changed, with the version read (someone else's change in between is refused).
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
import { useEffect, useMemo, useState } from "react";
import { ApiError, errorText } from "../api";
import { OrderPicker } from "../components/OrderPicker";
import { PreviewDocument, changeLabel, changeValue } from "../components/PreviewDocument";
import { useApp } from "../context";
import { when } from "../format";
import { useLoad } from "../hooks";
import type { InventoryAnswer, SettingsAnswer, SettingsPreview, ShopSettings } from "../types";

const SETTINGS = "/admin/api/integrations/fortnox/settings.json";
const PREVIEW = "/admin/api/integrations/fortnox/settings/preview.json";
const INVENTORY = "/admin/api/inventory/status.json";
const ACCOUNT_FIELDS = [
  ["eu_vat", "EU consumers charged VAT (OSS)"],
  ["eu_vat_free", "EU businesses without VAT (reverse charge)"],
  ["export", "Sales outside the EU"],
  ["shipping", "Shipping (empty: the goods' account)"],
  ["gift_card_liability", "Gift cards sold (a debt)"],
  ["tips", "Tips"],
  ["duties", "Import duties"],
  ["rounding", "Rounding (öresavrundning)"],
] as const;

// The form holds text for every number; the API gets numbers (or the text, which it refuses by field).
interface Draft {
  inventory_source: string;
  document_kind: string;
  trigger: string;
  bookkeep_invoices: boolean;
  bookkeep_payments: boolean;
  send_email: boolean;
  sweden: [string, string][];
  accounts: Record<string, string>;
  payment_modes: [string, string][];
  default_payment_mode: string;
  gift_card_payment_mode: string;
  customer_match: string;
  guest_customer_name: string;
  article_number_source: string;
  article_metafield: string;
  sku_policy: string;
  document_currency: string;
  currency_rate: string;
  shipping_as: string;
}

function toDraft(s: ShopSettings): Draft {
  const accounts: Record<string, string> = {};
  for (const [name] of ACCOUNT_FIELDS) {
    const value = s.accounts[name];
    accounts[name] = value === null ? "" : String(value);
  }
  return {
    inventory_source: s.inventory_source,
    document_kind: s.document_kind,
    trigger: s.trigger,
    bookkeep_invoices: s.bookkeep_invoices,
    bookkeep_payments: s.bookkeep_payments,
    send_email: s.send_email,
    sweden: Object.entries(s.accounts.sweden).map(([rate, account]) => [rate, String(account)]),
    accounts,
    payment_modes: Object.entries(s.payment_modes),
    default_payment_mode: s.default_payment_mode,
    gift_card_payment_mode: s.gift_card_payment_mode,
    customer_match: s.customer_match,
    guest_customer_name: s.guest_customer_name,
    article_number_source: s.article_number_source,
    article_metafield: s.article_metafield ?? "",
    sku_policy: s.sku_policy,
    document_currency: s.document_currency,
    currency_rate: s.currency_rate,
    shipping_as: s.shipping_as,
  };
}

function number(text: string): number | string {
  return /^\s*\d+\s*$/.test(text) ? Number(text) : text;
}

function fromDraft(d: Draft): Record<string, unknown> {
  const accounts: Record<string, unknown> = { sweden: Object.fromEntries(d.sweden.map(([rate, account]) => [rate.trim(), number(account)])) };
  for (const [name] of ACCOUNT_FIELDS) {
    const text = d.accounts[name].trim();
    accounts[name] = name === "shipping" && !text ? null : number(text);
  }
  return {
    inventory_source: d.inventory_source,
    document_kind: d.document_kind,
    trigger: d.trigger,
    bookkeep_invoices: d.bookkeep_invoices,
    bookkeep_payments: d.bookkeep_payments,
    send_email: d.send_email,
    accounts,
    payment_modes: Object.fromEntries(d.payment_modes.map(([gateway, code]) => [gateway.trim(), code.trim()])),
    default_payment_mode: d.default_payment_mode.trim(),
    gift_card_payment_mode: d.gift_card_payment_mode.trim(),
    customer_match: d.customer_match,
    guest_customer_name: d.guest_customer_name,
    article_number_source: d.article_number_source,
    article_metafield: d.article_metafield.trim() || null,
    sku_policy: d.sku_policy,
    document_currency: d.document_currency,
    currency_rate: d.currency_rate,
    shipping_as: d.shipping_as,
  };
}

// Only what differs from the saved settings (accounts field by field), so a save says what changed.
function patchOf(saved: ShopSettings, draft: Draft): Record<string, unknown> {
  const wanted = fromDraft(draft);
  const before = saved as unknown as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(wanted)) {
    if (name === "accounts") {
      const accounts: Record<string, unknown> = {};
      for (const [field, account] of Object.entries(value as Record<string, unknown>)) {
        if (JSON.stringify(account) !== JSON.stringify((saved.accounts as unknown as Record<string, unknown>)[field])) {
          accounts[field] = account;
        }
      }
      if (Object.keys(accounts).length) patch.accounts = accounts;
    } else if (JSON.stringify(value) !== JSON.stringify(before[name])) {
      patch[name] = value;
    }
  }
  return patch;
}

export function Settings() {
  const { api } = useApp();
  const loaded = useLoad(() => api.get<SettingsAnswer>(SETTINGS));
  const inventory = useLoad(() => api.get<InventoryAnswer>(INVENTORY));
  const [answer, setAnswer] = useState<SettingsAnswer | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<{ tone: "success" | "critical" | "warning"; title: string; text: string } | null>(null);
  const [saving, setSaving] = useState(false);
  const [orderId, setOrderId] = useState("");
  const [preview, setPreview] = useState<SettingsPreview | null>(null);
  const [previewing, setPreviewing] = useState(false);

  useEffect(() => {
    if (loaded.data) {
      setAnswer(loaded.data);
      setDraft(toDraft(loaded.data.settings));
    }
  }, [loaded.data]);

  const patch = useMemo(() => (answer && draft ? patchOf(answer.settings, draft) : {}), [answer, draft]);
  const dirty = Object.keys(patch).length > 0;

  if (!draft || !answer) {
    return (
      <Page title="Settings">
        {loaded.error ? (
          <Banner tone="critical" title="The settings could not be loaded">
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

  const set = <K extends keyof Draft>(name: K, value: Draft[K]) => setDraft({ ...draft, [name]: value });
  const error = (path: string) => errors[path];
  const showProblems = (caught: unknown, title: string) => {
    if (caught instanceof ApiError && caught.problems.length) {
      setErrors(Object.fromEntries(caught.problems.map((p) => [p.path.replace(/^settings\./, ""), p.message])));
      setNotice({ tone: "critical", title, text: `${caught.problems.length} field${caught.problems.length === 1 ? " needs" : "s need"} fixing: see the messages below.` });
    } else if (caught instanceof ApiError && caught.status === 409 && "version" in caught.body) {
      setNotice({ tone: "warning", title: "Someone else changed the settings", text: caught.message });
    } else {
      setNotice({ tone: "critical", title, text: errorText(caught) });
    }
  };

  const save = async () => {
    setSaving(true);
    setNotice(null);
    setErrors({});
    try {
      const saved = await api.put<SettingsAnswer>(SETTINGS, { settings: patch, version: answer.version });
      setAnswer(saved);
      setDraft(toDraft(saved.settings));
      setPreview(null);
      setNotice({ tone: "success", title: "Settings saved", text: "The next orders follow them. Documents already made stay as they are." });
    } catch (caught) {
      showProblems(caught, "The settings were not saved");
    } finally {
      setSaving(false);
    }
  };

  const runPreview = async () => {
    setPreviewing(true);
    setErrors({});
    setNotice(null);
    try {
      setPreview(await api.post<SettingsPreview>(PREVIEW, { settings: patch, order_id: orderId }));
    } catch (caught) {
      setPreview(null);
      showProblems(caught, "The preview could not be made");
    } finally {
      setPreviewing(false);
    }
  };

  const reloadCurrent = async () => {
    setNotice(null);
    setErrors({});
    await loaded.reload();
  };

  return (
    <Page
      title="Settings"
      subtitle="How every order becomes a Fortnox document, unless a rule says otherwise."
      primaryAction={{ content: "Save", onAction: () => void save(), loading: saving, disabled: !dirty }}
      secondaryActions={[{ content: "Discard changes", onAction: () => setDraft(toDraft(answer.settings)), disabled: !dirty }]}
    >
      <Layout>
        <Layout.Section>
          <BlockStack gap="400">
            {notice && (
              <Banner tone={notice.tone} title={notice.title} onDismiss={() => setNotice(null)}>
                <BlockStack gap="200">
                  <p>{notice.text}</p>
                  {notice.tone === "warning" && (
                    <InlineStack>
                      <Button onClick={() => void reloadCurrent()}>Load the current settings</Button>
                    </InlineStack>
                  )}
                </BlockStack>
              </Banner>
            )}
            <Card>
              <BlockStack gap="300">
                <Text as="h2" variant="headingMd">
                  Documents
                </Text>
                <FormLayout>
                  <FormLayout.Group>
                    <Select
                      label="Make in Fortnox"
                      options={[
                        { label: "An invoice", value: "invoice" },
                        { label: "An order (create the invoice from it in Fortnox)", value: "order" },
                        { label: "Nothing", value: "none" },
                      ]}
                      value={draft.document_kind}
                      onChange={(v) => set("document_kind", v)}
                      error={error("document_kind")}
                    />
                    <Select
                      label="When the Shopify order"
                      options={[
                        { label: "is created", value: "create" },
                        { label: "is paid", value: "paid" },
                        { label: "is fulfilled", value: "fulfilled" },
                      ]}
                      value={draft.trigger}
                      onChange={(v) => set("trigger", v)}
                      error={error("trigger")}
                    />
                  </FormLayout.Group>
                  <ChoiceList
                    title="Invoices"
                    choices={[
                      { label: "Leave as drafts (you bookkeep them in Fortnox)", value: "draft" },
                      { label: "Bookkeep them", value: "bookkeep" },
                    ]}
                    selected={[draft.bookkeep_invoices ? "bookkeep" : "draft"]}
                    onChange={([v]) => set("bookkeep_invoices", v === "bookkeep")}
                    error={error("bookkeep_invoices")}
                  />
                  <Checkbox
                    label="Bookkeep payments registered on invoices"
                    checked={draft.bookkeep_payments}
                    onChange={(v) => set("bookkeep_payments", v)}
                    error={error("bookkeep_payments")}
                  />
                  <Checkbox
                    label="E-mail the invoice to the customer from Fortnox"
                    checked={draft.send_email}
                    onChange={(v) => set("send_email", v)}
                    error={error("send_email")}
                  />
                </FormLayout>
              </BlockStack>
            </Card>
            <Card>
              <BlockStack gap="300">
                <Text as="h2" variant="headingMd">
                  Sales accounts
                </Text>
                <Text as="p" tone="subdued">
                  Four-digit accounts of your chart of accounts (BAS by default).
                </Text>
                <fieldset style={{ border: 0, padding: 0, margin: 0 }}>
                  <legend>
                    <Text as="span" variant="headingSm">
                      Sweden, by VAT rate
                    </Text>
                  </legend>
                  <BlockStack gap="200">
                    {draft.sweden.map(([rate, account], index) => (
                      <InlineGrid key={index} columns={["oneThird", "oneThird", "oneThird"]} gap="200" alignItems="end">
                        <TextField
                          label="VAT rate (%)"
                          value={rate}
                          onChange={(v) => set("sweden", draft.sweden.map((row, i) => (i === index ? [v, row[1]] : row)))}
                          autoComplete="off"
                        />
                        <TextField
                          label={`Account for ${rate || "this rate"} %`}
                          value={account}
                          onChange={(v) => set("sweden", draft.sweden.map((row, i) => (i === index ? [row[0], v] : row)))}
                          autoComplete="off"
                          inputMode="numeric"
                          error={error(`accounts.sweden.${rate}`)}
                        />
                        <Button
                          variant="plain"
                          tone="critical"
                          onClick={() => set("sweden", draft.sweden.filter((_, i) => i !== index))}
                          accessibilityLabel={`Remove the ${rate} % rate`}
                        >
                          Remove
                        </Button>
                      </InlineGrid>
                    ))}
                    {error("accounts.sweden") && (
                      <Text as="p" tone="critical">
                        {error("accounts.sweden")}
                      </Text>
                    )}
                    <InlineStack>
                      <Button onClick={() => set("sweden", [...draft.sweden, ["", ""]])}>Add a VAT rate</Button>
                    </InlineStack>
                  </BlockStack>
                </fieldset>
                <FormLayout>
                  <InlineGrid columns={{ xs: 1, md: 2 }} gap="300">
                    {ACCOUNT_FIELDS.map(([name, label]) => (
                      <TextField
                        key={name}
                        label={label}
                        value={draft.accounts[name]}
                        onChange={(v) => set("accounts", { ...draft.accounts, [name]: v })}
                        autoComplete="off"
                        inputMode="numeric"
                        error={error(`accounts.${name}`)}
                      />
                    ))}
                  </InlineGrid>
                </FormLayout>
              </BlockStack>
            </Card>
            <Card>
              <BlockStack gap="300">
                <Text as="h2" variant="headingMd">
                  Payments
                </Text>
                <Text as="p" tone="subdued">
                  The Fortnox mode of payment for each Shopify payment method (codes set up in Fortnox).
                </Text>
                {draft.payment_modes.map(([gateway, code], index) => (
                  <InlineGrid key={index} columns={["oneThird", "oneThird", "oneThird"]} gap="200" alignItems="end">
                    <TextField
                      label="Shopify payment method"
                      value={gateway}
                      onChange={(v) => set("payment_modes", draft.payment_modes.map((row, i) => (i === index ? [v, row[1]] : row)))}
                      autoComplete="off"
                    />
                    <TextField
                      label={`Mode of payment for ${gateway || "it"}`}
                      value={code}
                      onChange={(v) => set("payment_modes", draft.payment_modes.map((row, i) => (i === index ? [row[0], v] : row)))}
                      autoComplete="off"
                      error={error(`payment_modes.${gateway}`)}
                    />
                    <Button
                      variant="plain"
                      tone="critical"
                      onClick={() => set("payment_modes", draft.payment_modes.filter((_, i) => i !== index))}
                      accessibilityLabel={`Remove ${gateway || "this payment method"}`}
                    >
                      Remove
                    </Button>
                  </InlineGrid>
                ))}
                <InlineStack>
                  <Button onClick={() => set("payment_modes", [...draft.payment_modes, ["", ""]])}>Add a payment method</Button>
                </InlineStack>
                <FormLayout>
                  <FormLayout.Group>
                    <TextField
                      label="Any other payment method"
                      value={draft.default_payment_mode}
                      onChange={(v) => set("default_payment_mode", v)}
                      autoComplete="off"
                      error={error("default_payment_mode")}
                    />
                    <TextField
                      label="Gift cards"
                      value={draft.gift_card_payment_mode}
                      onChange={(v) => set("gift_card_payment_mode", v)}
                      autoComplete="off"
                      error={error("gift_card_payment_mode")}
                    />
                  </FormLayout.Group>
                </FormLayout>
              </BlockStack>
            </Card>
            <Card>
              <BlockStack gap="300">
                <Text as="h2" variant="headingMd">
                  Customers and articles
                </Text>
                <FormLayout>
                  <ChoiceList
                    title="Find the customer in Fortnox by"
                    choices={[
                      { label: "Organisation number for companies that give one, else e-mail", value: "organisation_number" },
                      { label: "E-mail address", value: "email" },
                    ]}
                    selected={[draft.customer_match]}
                    onChange={([v]) => set("customer_match", v)}
                    error={error("customer_match")}
                  />
                  <TextField
                    label="Customer for orders without an e-mail address (guests)"
                    value={draft.guest_customer_name}
                    onChange={(v) => set("guest_customer_name", v)}
                    autoComplete="off"
                    error={error("guest_customer_name")}
                  />
                  <FormLayout.Group>
                    <Select
                      label="Article number from"
                      options={[
                        { label: "The variant's SKU", value: "sku" },
                        { label: "The variant's barcode", value: "barcode" },
                        { label: "The variant's id", value: "variant_id" },
                        { label: "A line item property or metafield", value: "metafield" },
                      ]}
                      value={draft.article_number_source}
                      onChange={(v) => set("article_number_source", v)}
                      error={error("article_number_source")}
                    />
                    <Select
                      label="When a line has no article number"
                      options={[
                        { label: "Use the variant's id", value: "variant_id" },
                        { label: "Make the row without an article", value: "no_article" },
                        { label: "Fail the sync (I fix it first)", value: "fail" },
                      ]}
                      value={draft.sku_policy}
                      onChange={(v) => set("sku_policy", v)}
                      error={error("sku_policy")}
                    />
                  </FormLayout.Group>
                  {draft.article_number_source === "metafield" || error("article_metafield") ? (
                    <TextField
                      label="Property or metafield key"
                      value={draft.article_metafield}
                      onChange={(v) => set("article_metafield", v)}
                      autoComplete="off"
                      error={error("article_metafield")}
                    />
                  ) : null}
                </FormLayout>
              </BlockStack>
            </Card>
            <Card>
              <BlockStack gap="300">
                <Text as="h2" variant="headingMd">
                  Inventory
                </Text>
                <Select
                  label="Stock is kept in"
                  helpText="The other side follows it. Per-location mapping to Fortnox stock points is set through the settings API."
                  options={[
                    { label: "Neither: no inventory sync", value: "none" },
                    { label: "Shopify: Fortnox's article stock follows Shopify", value: "shopify" },
                    { label: "Fortnox: Shopify's available quantity follows Fortnox", value: "fortnox" },
                  ]}
                  value={draft.inventory_source}
                  onChange={(v) => set("inventory_source", v)}
                  error={error("inventory_source")}
                />
                {inventory.data && inventory.data.inventory.source !== "none" ? (
                  <BlockStack gap="100" aria-label="Inventory sync status">
                    <Text as="p">
                      Last synced {when(inventory.data.inventory.last_sync_at)}: {inventory.data.inventory.counts.to_fortnox} to Fortnox,{" "}
                      {inventory.data.inventory.counts.to_shopify} to Shopify, {inventory.data.inventory.counts.discrepancies} not synced.
                    </Text>
                    {inventory.data.inventory.warehouse_module ? (
                      <Text as="p" tone="caution">
                        Your Fortnox company uses the warehouse module (Lager): Fortbridge does not write its stock.
                      </Text>
                    ) : null}
                    {inventory.data.inventory.discrepancies.slice(0, 5).map((d) => (
                      <Text as="p" tone="subdued" key={d.key}>
                        {d.sku ?? d.key}: {d.reason}
                      </Text>
                    ))}
                  </BlockStack>
                ) : null}
              </BlockStack>
            </Card>
            <Card>
              <BlockStack gap="300">
                <Text as="h2" variant="headingMd">
                  Currency and shipping
                </Text>
                <FormLayout>
                  <ChoiceList
                    title="Invoice in"
                    choices={[
                      { label: "The customer's currency", value: "presentment" },
                      { label: "The shop's currency", value: "shop" },
                    ]}
                    selected={[draft.document_currency]}
                    onChange={([v]) => set("document_currency", v)}
                    error={error("document_currency")}
                  />
                  <ChoiceList
                    title="Exchange rate"
                    choices={[
                      { label: "The rate of the order (from Shopify's amounts)", value: "explicit" },
                      { label: "Fortnox's rate on the invoice date", value: "fortnox" },
                    ]}
                    selected={[draft.currency_rate]}
                    onChange={([v]) => set("currency_rate", v)}
                    error={error("currency_rate")}
                  />
                  <Select
                    label="Shipping as"
                    options={[
                      { label: "A row on the document", value: "row" },
                      { label: "Fortnox's freight field (25 % VAT only)", value: "freight" },
                    ]}
                    value={draft.shipping_as}
                    onChange={(v) => set("shipping_as", v)}
                    error={error("shipping_as")}
                  />
                </FormLayout>
              </BlockStack>
            </Card>
            <InlineStack align="end" gap="200">
              <Button onClick={() => setDraft(toDraft(answer.settings))} disabled={!dirty}>
                Discard changes
              </Button>
              <Button variant="primary" onClick={() => void save()} loading={saving} disabled={!dirty}>
                Save
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
                {dirty
                  ? "See what your unsaved changes would make of a real order. Nothing is saved or sent."
                  : "Change a setting, then see what it would make of a real order."}
              </Text>
              <OrderPicker value={orderId} onChange={setOrderId} />
              <InlineStack>
                <Button onClick={() => void runPreview()} loading={previewing} disabled={!orderId}>
                  Preview
                </Button>
              </InlineStack>
              {preview && <SettingsPreviewView preview={preview} />}
              <Text as="p" tone="subdued" variant="bodySm">
                {answer.version > 0
                  ? `Version ${answer.version}, saved ${when(answer.updated_at)}${answer.updated_by ? ` by ${answer.updated_by}` : ""}.`
                  : "Fortbridge's defaults: never changed."}
              </Text>
            </BlockStack>
          </Card>
        </Layout.Section>
      </Layout>
    </Page>
  );
}

// The document's own kind repeats the first line ("Fortnox document: invoice → order").
function shownChanges(preview: SettingsPreview): SettingsPreview["changes"] {
  const kindChanged = preview.changes.some((change) => change.path === "document_kind");
  return preview.changes.filter((change) => !(kindChanged && /^documents\[\d+\]\.document\.kind$/.test(change.path)));
}

function SettingsPreviewView({ preview }: { preview: SettingsPreview }) {
  return (
    <BlockStack gap="300">
      <section aria-label="What changes">
        {shownChanges(preview).length === 0 ? (
          <Banner tone="info">
            <p>This order would come out the same as with the saved settings.</p>
          </Banner>
        ) : (
          <BlockStack gap="100">
            <Text as="h3" variant="headingSm">
              What changes
            </Text>
            <ul style={{ margin: 0, paddingInlineStart: "1.25rem" }}>
              {shownChanges(preview).map((change) => (
                <li key={change.path} data-change={change.path}>
                  <Text as="span">{`${changeLabel(change.path)}: ${changeValue(change.saved)} → ${changeValue(change.draft)}`}</Text>
                </li>
              ))}
            </ul>
          </BlockStack>
        )}
      </section>
      <PreviewDocument preview={preview.draft} heading="With your changes" />
    </BlockStack>
  );
}
