// The Settings page's Inventory card: where stock is kept, the notice of a missing inventory
// permission (access), and the inventory sync's last run from its status (counts, the
// warehouse module, the first items not synced); null while it loads or if it could not be read.
import { BlockStack, Card, Select, Text } from "@shopify/polaris";
import { when } from "../../format";
import type { InventoryAnswer, ShopifyAccess } from "../../types";
import { ScopeNotice } from "../ScopeNotice";
import type { DraftCardProps } from "./draft";

interface Props extends DraftCardProps {
  access: ShopifyAccess[];
  status: InventoryAnswer["inventory"] | null;
}

export function InventoryCard({ draft, set, error, access, status }: Props) {
  return (
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
        {access.map((a) => (
          <ScopeNotice key={a.feature} access={a} />
        ))}
        {status && status.source !== "none" ? (
          <BlockStack gap="100" aria-label="Inventory sync status">
            <Text as="p">
              Last synced {when(status.last_sync_at)}: {status.counts.to_fortnox} to Fortnox,{" "}
              {status.counts.to_shopify} to Shopify, {status.counts.discrepancies} not synced.
            </Text>
            {status.warehouse_module ? (
              <Text as="p" tone="caution">
                Your Fortnox company uses the warehouse module (Lager): Fortbridge does not write its stock.
              </Text>
            ) : null}
            {status.discrepancies.slice(0, 5).map((d) => (
              <Text as="p" tone="subdued" key={d.key}>
                {d.sku ?? d.key}: {d.reason}
              </Text>
            ))}
          </BlockStack>
        ) : null}
      </BlockStack>
    </Card>
  );
}
