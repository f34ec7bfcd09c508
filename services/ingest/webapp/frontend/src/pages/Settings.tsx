// Settings: the shop's defaults for every order no rule changes. A draft can be previewed on a
// real order (saved beside draft, and what differs) before it is saved; saving sends only the
// fields that changed, with the version read (someone else's change in between is refused).
// The cards, the draft and the page's state are in components/settings/.
import { Banner, BlockStack, Button, Card, InlineStack, Layout, Page, Text } from "@shopify/polaris";
import { PayoutsCard } from "../components/PayoutsCard";
import { ScopeNotice } from "../components/ScopeNotice";
import { CurrencyShippingCard } from "../components/settings/CurrencyShippingCard";
import { CustomersArticlesCard } from "../components/settings/CustomersArticlesCard";
import { DocumentsCard } from "../components/settings/DocumentsCard";
import { InventoryCard } from "../components/settings/InventoryCard";
import { PaymentModesCard } from "../components/settings/PaymentModesCard";
import { SalesAccountsCard } from "../components/settings/SalesAccountsCard";
import { SettingsPreviewCard } from "../components/settings/SettingsPreviewCard";
import { useSettingsForm } from "../components/settings/useSettingsForm";
import { useApp } from "../context";
import { useLoad } from "../hooks";
import type { InventoryAnswer } from "../types";

const INVENTORY = "/admin/api/inventory/status.json";

export function Settings() {
  const { api } = useApp();
  const form = useSettingsForm();
  const inventory = useLoad(() => api.get<InventoryAnswer>(INVENTORY));
  const { answer, draft, dirty, set, error, discard, notice, setNotice, saving, save } = form;

  if (!draft || !answer) {
    return (
      <Page title="Settings">
        {form.loadError ? (
          <Banner tone="critical" title="The settings could not be loaded">
            <p>{form.loadError}</p>
          </Banner>
        ) : (
          <Card>
            <Text as="p">Loading…</Text>
          </Card>
        )}
      </Page>
    );
  }

  const access = answer.shopify_access ?? [];
  return (
    <Page
      title="Settings"
      subtitle="How every order becomes a Fortnox document, unless a rule says otherwise."
      primaryAction={{ content: "Save", onAction: () => void save(), loading: saving, disabled: !dirty }}
      secondaryActions={[{ content: "Discard changes", onAction: discard, disabled: !dirty }]}
    >
      <Layout>
        <Layout.Section>
          <BlockStack gap="400">
            {notice && (
              <Banner tone={notice.tone} title={notice.title} onDismiss={() => setNotice(null)}>
                <BlockStack gap="200">
                  <p>{notice.text}</p>
                  {notice.tone === "warning" && (
                    <InlineStack>
                      <Button onClick={() => void form.reloadCurrent()}>Load the current settings</Button>
                    </InlineStack>
                  )}
                </BlockStack>
              </Banner>
            )}
            {access
              .filter((a) => a.feature !== "inventory" && a.feature !== "payouts")
              .map((a) => (
                <ScopeNotice key={a.feature} access={a} />
              ))}
            <DocumentsCard draft={draft} set={set} error={error} />
            <SalesAccountsCard draft={draft} set={set} error={error} />
            <PaymentModesCard draft={draft} set={set} error={error} />
            <PayoutsCard
              draft={draft.payouts}
              onChange={(v) => set("payouts", v)}
              error={error}
              access={access.filter((a) => a.feature === "payouts")}
            />
            <CustomersArticlesCard draft={draft} set={set} error={error} />
            <InventoryCard
              draft={draft}
              set={set}
              error={error}
              access={access.filter((a) => a.feature === "inventory")}
              status={inventory.data?.inventory ?? null}
            />
            <CurrencyShippingCard draft={draft} set={set} error={error} />
            <InlineStack align="end" gap="200">
              <Button onClick={discard} disabled={!dirty}>
                Discard changes
              </Button>
              <Button variant="primary" onClick={() => void save()} loading={saving} disabled={!dirty}>
                Save
              </Button>
            </InlineStack>
          </BlockStack>
        </Layout.Section>
        <Layout.Section variant="oneThird">
          <SettingsPreviewCard
            answer={answer}
            dirty={dirty}
            orderId={form.orderId}
            setOrderId={form.setOrderId}
            runPreview={form.runPreview}
            previewing={form.previewing}
            preview={form.preview}
          />
        </Layout.Section>
      </Layout>
    </Page>
  );
}
