// Outside Shopify admin: the development login (where APP_DEV_LOGIN is on), else where to go.
import { Banner, BlockStack, Button, Card, Form, FormLayout, Page, Text, TextField } from "@shopify/polaris";
import { useState } from "react";
import { errorText } from "../api";
import { useApp } from "../context";

export function DevLogin({ defaultShop, onSignedIn }: { defaultShop: string; onSignedIn(): void }) {
  const { session } = useApp();
  const [shop, setShop] = useState(defaultShop);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      await session.signIn(shop);
      onSignedIn();
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Page narrowWidth title="Fortbridge">
      <Card>
        <BlockStack gap="400">
          <Text as="h2" variant="headingMd">
            Development login
          </Text>
          <Text as="p">
            Inside Shopify admin, Shopify signs you in. Here, on this machine, sign in as a shop to use the app
            against the local stack.
          </Text>
          {error && (
            <Banner tone="critical" title="Could not sign in">
              <p>{error}</p>
            </Banner>
          )}
          <Form onSubmit={submit}>
            <FormLayout>
              <TextField
                label="Shop domain"
                value={shop}
                onChange={setShop}
                autoComplete="off"
                placeholder="example.myshopify.com"
                helpText="The shop's myshopify.com domain."
              />
              <Button submit variant="primary" loading={busy} disabled={!shop.trim()}>
                Sign in
              </Button>
            </FormLayout>
          </Form>
        </BlockStack>
      </Card>
    </Page>
  );
}

export function OpenFromShopify() {
  return (
    <Page narrowWidth title="Fortbridge">
      <Banner tone="info" title="Open Fortbridge from Shopify admin">
        <p>
          Fortbridge runs inside your Shopify admin: go to Apps, then Fortbridge. Shopify signs you in there.
        </p>
      </Banner>
    </Page>
  );
}
