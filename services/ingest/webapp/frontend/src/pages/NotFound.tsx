import { Banner, Page } from "@shopify/polaris";

export function NotFound() {
  return (
    <Page title="Page not found" backAction={{ content: "Get started", url: "/" }}>
      <Banner tone="warning" title="There is no such page in Fortbridge">
        <p>Use the menu to find what you were looking for.</p>
      </Banner>
    </Page>
  );
}
