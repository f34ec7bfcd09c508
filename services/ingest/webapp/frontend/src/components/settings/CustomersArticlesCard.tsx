// The Settings page's Customers and articles card: how the Fortnox customer is found, the guest
// customer, where the article number comes from and what a line without one does.
import { BlockStack, Card, ChoiceList, FormLayout, Select, Text, TextField } from "@shopify/polaris";
import type { DraftCardProps } from "./draft";

export function CustomersArticlesCard({ draft, set, error }: DraftCardProps) {
  return (
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
  );
}
