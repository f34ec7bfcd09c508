// The Settings page's Payments card: the Fortnox mode of payment of each Shopify payment method
// (rows added and removed), of any other method and of gift cards.
import { BlockStack, Button, Card, FormLayout, InlineGrid, InlineStack, Text, TextField } from "@shopify/polaris";
import type { DraftCardProps } from "./draft";

export function PaymentModesCard({ draft, set, error }: DraftCardProps) {
  return (
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
  );
}
