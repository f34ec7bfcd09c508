// The Settings page's Currency and shipping card: the document's currency (document_currency: the
// customer's or the shop's), its exchange rate (currency_rate: the order's or Fortnox's), and
// whether shipping is a row or Fortnox's freight field (shipping_as; freight takes 25 % VAT only).
// A field the API refuses shows its message under it.
import { BlockStack, Card, ChoiceList, FormLayout, Select, Text } from "@shopify/polaris";
import type { DraftCardProps } from "./draft";

export function CurrencyShippingCard({ draft, set, error }: DraftCardProps) {
  return (
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
  );
}
