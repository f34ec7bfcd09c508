// Rules: the shop's rules in order (the first enabled rule that matches an order applies);
// reorder, enable or disable, edit, delete.
import { Badge, Banner, BlockStack, Button, ButtonGroup, Card, Checkbox, InlineStack, Modal, Page, Text } from "@shopify/polaris";
import { ArrowDownIcon, ArrowUpIcon } from "@shopify/polaris-icons";
import { useEffect, useState } from "react";
import { errorText } from "../api";
import { useApp } from "../context";
import { useLoad } from "../hooks";
import { describeActions, describeConditions, ruleBody } from "../rules";
import { useRoute } from "../router";
import type { MappingRule } from "../types";

const RULES = "/admin/api/integrations/fortnox/mapping_rules";

export function Rules() {
  const { api } = useApp();
  const { navigate } = useRoute();
  const loaded = useLoad(() => api.get<{ mapping_rules: MappingRule[]; rule_set_version: number }>(`${RULES}.json`));
  const [rules, setRules] = useState<MappingRule[]>([]);
  const [version, setVersion] = useState(0);
  const [busy, setBusy] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<MappingRule | null>(null);
  const [announce, setAnnounce] = useState("");
  const [focusAfter, setFocusAfter] = useState<{ id: number; direction: "up" | "down" } | null>(null);

  // Keep the keyboard on the rule that moved (its other arrow when it reached an end).
  useEffect(() => {
    if (busy !== null || !focusAfter) return;
    const other = focusAfter.direction === "up" ? "down" : "up";
    const wanted = document.getElementById(`move-${focusAfter.direction}-${focusAfter.id}`) as HTMLButtonElement | null;
    const fallback = document.getElementById(`move-${other}-${focusAfter.id}`) as HTMLButtonElement | null;
    // Polaris keeps a disabled button focusable (aria-disabled): the usable arrow gets the focus.
    const usable = wanted && !wanted.disabled && wanted.getAttribute("aria-disabled") !== "true";
    (usable ? wanted : fallback)?.focus();
    setFocusAfter(null);
  }, [busy, focusAfter]);

  useEffect(() => {
    if (loaded.data) {
      setRules(loaded.data.mapping_rules);
      setVersion(loaded.data.rule_set_version);
    }
  }, [loaded.data]);

  const act = async (name: string, work: () => Promise<void>) => {
    setBusy(name);
    setFailure(null);
    try {
      await work();
    } catch (error) {
      setFailure(errorText(error));
      await loaded.reload();
    } finally {
      setBusy(null);
    }
  };

  const move = (index: number, by: -1 | 1) =>
    act(`move:${rules[index].id}`, async () => {
      const order = rules.map((r) => r.id);
      const [id] = order.splice(index, 1);
      order.splice(index + by, 0, id);
      const answer = await api.put<{ mapping_rules: MappingRule[]; rule_set_version: number }>(`${RULES}/order.json`, { rule_ids: order });
      setRules(answer.mapping_rules);
      setVersion(answer.rule_set_version);
      setAnnounce(`${rules[index].name} moved to position ${index + by + 1}.`);
      setFocusAfter({ id, direction: by < 0 ? "up" : "down" });
    });

  const toggle = (rule: MappingRule) =>
    act(`toggle:${rule.id}`, async () => {
      const answer = await api.put<{ rule_set_version: number }>(`${RULES}/${rule.id}.json`, {
        mapping_rule: { ...ruleBody(rule), enabled: !rule.enabled },
      });
      setRules((all) => all.map((r) => (r.id === rule.id ? { ...r, enabled: !rule.enabled } : r)));
      setVersion(answer.rule_set_version);
      setAnnounce(`${rule.name} ${rule.enabled ? "disabled" : "enabled"}.`);
    });

  const remove = () =>
    act("delete", async () => {
      if (!deleting) return;
      const answer = await api.delete<{ mapping_rules: MappingRule[]; rule_set_version: number }>(`${RULES}/${deleting.id}.json`);
      setRules(answer.mapping_rules);
      setVersion(answer.rule_set_version);
      setAnnounce(`${deleting.name} deleted.`);
      setDeleting(null);
    });

  return (
    <Page
      title="Rules"
      subtitle="For each order the first enabled rule that matches changes the settings for it."
      primaryAction={{ content: "Create rule", onAction: () => navigate("/rules/new") }}
    >
      <BlockStack gap="400">
        <div aria-live="polite">
          <Text as="span" visuallyHidden>
            {announce}
          </Text>
        </div>
        {failure && (
          <Banner tone="critical" title="That did not work" onDismiss={() => setFailure(null)}>
            <p>{failure}</p>
          </Banner>
        )}
        {loaded.error && (
          <Banner tone="critical" title="The rules could not be loaded">
            <p>{loaded.error}</p>
          </Banner>
        )}
        {!loaded.loading && rules.length === 0 && !loaded.error && (
          <Card>
            <BlockStack gap="200">
              <Text as="p">No rules: every order follows the settings.</Text>
              <Text as="p" tone="subdued">
                A rule can make a Fortnox order instead of an invoice for B2B orders, set a cost centre per sales
                channel, fill Fortnox fields from the order, and more.
              </Text>
            </BlockStack>
          </Card>
        )}
        <ol style={{ margin: 0, padding: 0, listStyle: "none" }} aria-label="Rules in the order they are tried">
          {rules.map((rule, index) => (
            <li key={rule.id} data-rule={rule.id}>
              <Card>
                <InlineStack align="space-between" blockAlign="center" gap="300" wrap={false}>
                  <BlockStack gap="100">
                    <InlineStack gap="200" blockAlign="center">
                      <Text as="span" tone="subdued">
                        {index + 1}.
                      </Text>
                      <Text as="h2" variant="headingSm">
                        {rule.name}
                      </Text>
                      {!rule.enabled && <Badge>Disabled</Badge>}
                    </InlineStack>
                    <Text as="p">{describeConditions(rule.conditions)}</Text>
                    <Text as="p" tone="subdued">
                      {`Makes ${describeActions(rule.actions)}.`}
                    </Text>
                  </BlockStack>
                  <InlineStack gap="200" blockAlign="center" wrap={false}>
                    <Checkbox
                      label="Enabled"
                      checked={rule.enabled}
                      onChange={() => void toggle(rule)}
                      disabled={busy !== null}
                    />
                    <ButtonGroup variant="segmented">
                      <Button
                        id={`move-up-${rule.id}`}
                        icon={ArrowUpIcon}
                        accessibilityLabel={`Move ${rule.name} up`}
                        disabled={index === 0 || busy !== null}
                        onClick={() => void move(index, -1)}
                      />
                      <Button
                        id={`move-down-${rule.id}`}
                        icon={ArrowDownIcon}
                        accessibilityLabel={`Move ${rule.name} down`}
                        disabled={index === rules.length - 1 || busy !== null}
                        onClick={() => void move(index, 1)}
                      />
                    </ButtonGroup>
                    <Button url={`/rules/${rule.id}`} accessibilityLabel={`Edit ${rule.name}`}>
                      Edit
                    </Button>
                    <Button tone="critical" variant="plain" onClick={() => setDeleting(rule)} accessibilityLabel={`Delete ${rule.name}`}>
                      Delete
                    </Button>
                  </InlineStack>
                </InlineStack>
              </Card>
              <div style={{ height: 12 }} />
            </li>
          ))}
        </ol>
        {version > 0 && (
          <Text as="p" tone="subdued" variant="bodySm">
            {`Rule set version ${version}. Every change makes a new version; each Fortnox document records the version that made it.`}
          </Text>
        )}
      </BlockStack>
      <Modal
        open={deleting !== null}
        onClose={() => setDeleting(null)}
        title={`Delete ${deleting?.name ?? "the rule"}?`}
        primaryAction={{ content: "Delete", destructive: true, onAction: () => void remove(), loading: busy === "delete" }}
        secondaryActions={[{ content: "Cancel", onAction: () => setDeleting(null) }]}
      >
        <Modal.Section>
          <Text as="p">New orders no longer follow it. Documents it already made stay as they are.</Text>
        </Modal.Section>
      </Modal>
    </Page>
  );
}
