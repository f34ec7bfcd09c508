// The Settings page's Shopify Payments payouts: whether each payout is booked as a Fortnox
// voucher, and its series and accounts. The form holds text; the settings API refuses a wrong
// account by its field (settings.payouts.<field>), shown under that field.
import { BlockStack, Card, Checkbox, FormLayout, InlineGrid, Text, TextField } from "@shopify/polaris";
import type { PayoutSettings, ShopifyAccess } from "../types";
import { ScopeNotice } from "./ScopeNotice";

export const PAYOUT_ACCOUNTS = [
  ["clearing_account", "Clearing account for card settlements", "Where the customers' card payments wait until paid out (BAS 1580)."],
  ["fee_account", "Fee account", "Shopify Payments fees (BAS 6064)."],
  ["bank_account", "Bank account", "The account the payout reaches (BAS 1930)."],
  ["adjustment_account", "Adjustments and chargebacks", "Adjustments, disputes and chargebacks (BAS 6990)."],
  ["reserve_account", "Reserved funds", "Money Shopify holds back in reserve (BAS 1680)."],
] as const;

export interface PayoutsDraft {
  enabled: boolean;
  voucher_series: string;
  accounts: Record<string, string>;
}

export function payoutsDraft(p: PayoutSettings): PayoutsDraft {
  const accounts: Record<string, string> = {};
  for (const [name] of PAYOUT_ACCOUNTS) accounts[name] = String(p[name]);
  return { enabled: p.enabled, voucher_series: p.voucher_series, accounts };
}

// What the API gets: numbers for accounts that are numbers, else the text (refused by field).
export function payoutsValue(d: PayoutsDraft, number: (text: string) => number | string): Record<string, unknown> {
  const out: Record<string, unknown> = { enabled: d.enabled, voucher_series: d.voucher_series.trim() };
  for (const [name] of PAYOUT_ACCOUNTS) out[name] = number(d.accounts[name].trim());
  return out;
}

interface Props {
  draft: PayoutsDraft;
  onChange: (draft: PayoutsDraft) => void;
  error: (path: string) => string | undefined;
  access: ShopifyAccess[];
}

export function PayoutsCard({ draft, onChange, error, access }: Props) {
  return (
    <Card>
      <BlockStack gap="300">
        <Text as="h2" variant="headingMd">
          Shopify Payments payouts
        </Text>
        <Text as="p" tone="subdued">
          Each payout becomes one Fortnox voucher: the card payments leave the clearing account, the fees go to
          the fee account and the net reaches the bank account.
        </Text>
        {access.map((a) => (
          <ScopeNotice key={a.feature} access={a} />
        ))}
        <FormLayout>
          <Checkbox
            label="Book Shopify Payments payouts in Fortnox"
            helpText="Needs the shopify_payments mode of payment to use the clearing account in Fortnox."
            checked={draft.enabled}
            onChange={(v) => onChange({ ...draft, enabled: v })}
            error={error("payouts.enabled")}
          />
          <InlineGrid columns={{ xs: 1, md: 2 }} gap="300">
            {PAYOUT_ACCOUNTS.map(([name, label, help]) => (
              <TextField
                key={name}
                label={label}
                helpText={help}
                value={draft.accounts[name]}
                onChange={(v) => onChange({ ...draft, accounts: { ...draft.accounts, [name]: v } })}
                autoComplete="off"
                inputMode="numeric"
                error={error(`payouts.${name}`)}
              />
            ))}
            <TextField
              label="Voucher series"
              helpText="The Fortnox voucher series of payout vouchers."
              value={draft.voucher_series}
              onChange={(v) => onChange({ ...draft, voucher_series: v })}
              autoComplete="off"
              error={error("payouts.voucher_series")}
            />
          </InlineGrid>
        </FormLayout>
      </BlockStack>
    </Card>
  );
}
