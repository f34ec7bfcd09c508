// A planned Fortnox document (a preview): its kind, customer, rows and totals; or why none.
import { Badge, Banner, BlockStack, InlineStack, Text } from "@shopify/polaris";
import { money } from "../format";
import type { Preview } from "../types";

export function PreviewDocument({ preview, heading }: { preview: Preview; heading: string }) {
  const command = preview.documents.find((doc) => doc.action === "create_document") ?? preview.documents[0];
  const document = command?.document;
  return (
    <BlockStack gap="200">
      <InlineStack gap="200" blockAlign="center">
        <Text as="h3" variant="headingSm">
          {heading}
        </Text>
        {preview.matched_rule && (
          <Badge tone={preview.matched_rule.draft ? "attention" : "info"}>
            {preview.matched_rule.draft ? `This rule (draft): ${preview.matched_rule.name}` : `Rule: ${preview.matched_rule.name}`}
          </Badge>
        )}
        {!preview.matched_rule && <Badge>Shop settings (no rule matched)</Badge>}
      </InlineStack>
      {preview.error && (
        <Banner tone="critical" title="This order could not be planned">
          <p>{preview.error.message}</p>
        </Banner>
      )}
      {preview.skipped && (
        <Banner tone="info" title="No Fortnox document">
          <p>{preview.skipped}</p>
        </Banner>
      )}
      {document && (
        <BlockStack gap="200">
          <Text as="p">
            {`A Fortnox ${document.kind}, made when the order ${triggerWords(preview.trigger)}, ${
              preview.bookkeep ? "bookkept" : "left as a draft"
            }${preview.send_email ? ", e-mailed to the customer" : ""}. Customer matched by ${
              command?.customer?.match_key === "organisation_number" ? "organisation number" : "e-mail"
            }${command?.customer?.fields?.Name ? ` (${command.customer.fields.Name})` : ""}.`}
          </Text>
          <ul aria-label="Rows" style={{ margin: 0, paddingInlineStart: "1.25rem" }}>
            {document.rows.map((row, index) => (
              <li key={index}>
                <Text as="span">
                  {`${row.description}: ${row.quantity} × ${money(row.price)}, VAT ${row.vat} %, account ${
                    row.account_number ?? "—"
                  }${row.article_number ? `, article ${row.article_number}` : ""}`}
                </Text>
              </li>
            ))}
          </ul>
          <Text as="p" fontWeight="semibold">
            {`Total ${money(command?.expected_total ?? null, document.currency)}`}
          </Text>
          {Object.keys(document.fields).length > 0 && (
            <Text as="p" tone="subdued">
              {`Other fields: ${Object.entries(document.fields)
                .map(([name, value]) => `${name} = ${value}`)
                .join(", ")}`}
            </Text>
          )}
        </BlockStack>
      )}
      {preview.payment_modes && (
        <Text as="p" tone="subdued">
          {`Payments: ${Object.entries(preview.payment_modes)
            .map(([gateway, mode]) => `${gateway} → ${mode}`)
            .join(", ")}`}
        </Text>
      )}
    </BlockStack>
  );
}

function triggerWords(trigger: string): string {
  return { create: "is created", paid: "is paid", fulfilled: "is fulfilled" }[trigger] ?? trigger;
}

// "documents[0].document.rows[1].account_number" -> "Row 2: account", for the list of changes.
export function changeLabel(path: string): string {
  const row = /^documents\[\d+\]\.document\.rows\[(\d+)\]\.(\w+)$/.exec(path);
  if (row) return `Row ${Number(row[1]) + 1}: ${row[2].replace(/_/g, " ")}`;
  const payment = /^payment_modes\.(.+)$/.exec(path);
  if (payment) return `Mode of payment for ${payment[1]}`;
  const field = /^documents\[\d+\]\.document\.fields\.(\w+)$/.exec(path);
  if (field) return `Fortnox field ${field[1]}`;
  const customer = /^documents\[\d+\]\.customer\.(.+)$/.exec(path);
  if (customer) return `Customer ${customer[1].replace(/[._]/g, " ")}`;
  const named: Record<string, string> = {
    document_kind: "Fortnox document",
    trigger: "Made when the order",
    bookkeep: "Bookkept",
    send_email: "E-mailed",
  };
  return named[path] ?? path.replace(/^documents\[\d+\]\./, "").replace(/[._]/g, " ");
}

export function changeValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}
