// The Settings page's Documents card: what Fortbridge makes in Fortnox, on which Shopify event,
// and whether invoices and their payments are bookkept and the invoice e-mailed.
import { BlockStack, Card, Checkbox, ChoiceList, FormLayout, Select, Text } from "@shopify/polaris";
import type { DraftCardProps } from "./draft";

export function DocumentsCard({ draft, set, error }: DraftCardProps) {
  return (
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
  );
}
