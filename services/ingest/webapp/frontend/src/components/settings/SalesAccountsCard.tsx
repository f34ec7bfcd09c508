// The Settings page's Sales accounts card: the account of each Swedish VAT rate (rows added and
// removed), and the accounts of other markets and of shipping, gift cards, tips, duties, rounding.
import { BlockStack, Button, Card, FormLayout, InlineGrid, InlineStack, Text, TextField } from "@shopify/polaris";
import { ACCOUNT_FIELDS, type DraftCardProps } from "./draft";

export function SalesAccountsCard({ draft, set, error }: DraftCardProps) {
  return (
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
  );
}
