// A feature that needs a Shopify permission the shop has not granted: what to do, plainly, and
// the link that asks Shopify for it (the OAuth page opens at the top level, never framed).
import { Banner, BlockStack, Button, InlineStack } from "@shopify/polaris";
import { useApp } from "../context";
import type { ShopifyAccess } from "../types";

export function ScopeNotice({ access }: { access: ShopifyAccess }) {
  const { session } = useApp();
  if (access.granted || !access.reauthorize_url) return null;
  const many = access.missing_scopes.length > 1;
  return (
    <Banner tone="warning" title={`Shopify permission${many ? "s" : ""} needed: ${access.missing_scopes.join(", ")}`}>
      <BlockStack gap="200">
        <p>{access.what_to_do}</p>
        <InlineStack>
          <Button url={access.reauthorize_url} target={session.embedded ? "_top" : "_self"}>
            {`Grant the permission${many ? "s" : ""} in Shopify`}
          </Button>
        </InlineStack>
      </BlockStack>
    </Banner>
  );
}
