// Create or edit a rule: which orders (conditions), what changes (actions), Fortnox fields filled
// from the order (templates, as plain text), and a preview on a real order before saving.
// The cards, the form and the editor's state are in components/rules/.
import { Banner, BlockStack, Button, Card, Checkbox, FormLayout, InlineStack, Layout, Page, Select, Text, TextField } from "@shopify/polaris";
import { OrderPicker } from "../components/OrderPicker";
import { PreviewDocument } from "../components/PreviewDocument";
import { ActionsCard } from "../components/rules/ActionsCard";
import { ConditionsCard } from "../components/rules/ConditionsCard";
import type { Form } from "../components/rules/ruleForm";
import { TemplatesCard } from "../components/rules/TemplatesCard";
import { useRuleForm } from "../components/rules/useRuleForm";

export function RuleEditor({ ruleId }: { ruleId: number | null }) {
  const { loaded, form, update, error, conditionErrors, failure, setFailure, saving, save, orderId, setOrderId, preview, previewing, runPreview } =
    useRuleForm(ruleId);
  const title = ruleId === null ? "Create rule" : `Edit ${loaded.data?.name ?? "rule"}`;
  if (!form) {
    return (
      <Page title={title} backAction={{ content: "Rules", url: "/rules" }}>
        {loaded.error ? (
          <Banner tone="critical" title="The rule could not be loaded">
            <p>{loaded.error}</p>
          </Banner>
        ) : (
          <Card>
            <Text as="p">Loading…</Text>
          </Card>
        )}
      </Page>
    );
  }

  return (
    <Page
      title={title}
      backAction={{ content: "Rules", url: "/rules" }}
      primaryAction={{ content: "Save rule", onAction: () => void save(), loading: saving, disabled: !form.name.trim() }}
    >
      <Layout>
        <Layout.Section>
          <BlockStack gap="400">
            {failure && (
              <Banner tone="critical" onDismiss={() => setFailure(null)}>
                <p>{failure}</p>
              </Banner>
            )}
            <Card>
              <FormLayout>
                <TextField label="Name" value={form.name} onChange={(v) => update({ name: v })} autoComplete="off" error={error("name")} />
                <Checkbox label="Enabled" checked={form.enabled} onChange={(v) => update({ enabled: v })} />
                {ruleId === null && (
                  <Select
                    label="Try it"
                    options={[
                      { label: "After the existing rules", value: "last" },
                      { label: "Before the existing rules", value: "first" },
                    ]}
                    value={form.position}
                    onChange={(v) => update({ position: v as Form["position"] })}
                  />
                )}
              </FormLayout>
            </Card>
            <ConditionsCard form={form} update={update} error={error} conditionErrors={conditionErrors} />
            <ActionsCard form={form} update={update} error={error} />
            <TemplatesCard form={form} update={update} error={error} />
            <InlineStack align="end" gap="200">
              <Button url="/rules">Cancel</Button>
              <Button variant="primary" onClick={() => void save()} loading={saving} disabled={!form.name.trim()}>
                Save rule
              </Button>
            </InlineStack>
          </BlockStack>
        </Layout.Section>
        <Layout.Section variant="oneThird">
          <Card>
            <BlockStack gap="300">
              <Text as="h2" variant="headingMd">
                Preview on an order
              </Text>
              <Text as="p" tone="subdued">
                What this rule, as it is now in the form, would make of a real order, among your other rules.
                Nothing is saved or sent.
              </Text>
              <OrderPicker value={orderId} onChange={setOrderId} />
              <InlineStack>
                <Button onClick={() => void runPreview()} loading={previewing} disabled={!orderId || !form.name.trim()}>
                  Preview
                </Button>
              </InlineStack>
              {preview && <PreviewDocument preview={preview} heading="Result" />}
            </BlockStack>
          </Card>
        </Layout.Section>
      </Layout>
    </Page>
  );
}
