// Catalog: send the shop's products (as Fortnox articles) or customers to Fortnox: all of them,
// some by id, or those updated since a date; a progress bar follows the sync until it is done,
// and the items that did not sync are listed with why.
import {
  Badge,
  Banner,
  BlockStack,
  Button,
  Card,
  ChoiceList,
  InlineStack,
  Layout,
  List,
  Page,
  ProgressBar,
  Text,
  TextField,
} from "@shopify/polaris";
import { useEffect, useState } from "react";
import { ApiError, errorText } from "../api";
import { useApp } from "../context";
import { when } from "../format";
import { useInterval } from "../hooks";
import type { CatalogSync } from "../types";

type Kind = "products" | "customers";
const WORDS: Record<Kind, { title: string; items: string; one: string; what: string }> = {
  products: { title: "Products", items: "products", one: "product", what: "Each variant becomes a Fortnox article, numbered by its SKU." },
  customers: { title: "Customers", items: "customers", one: "customer", what: "Each customer with an e-mail address is found or created in Fortnox." },
};

function percent(sync: CatalogSync): number {
  if (sync.status === "finished") return 100;
  if (!sync.total) return 0;
  return Math.floor(((sync.done + sync.failed + sync.skipped) / sync.total) * 100);
}

export function Catalog() {
  return (
    <Page title="Catalog" subtitle="Send your products and customers to Fortnox. New changes follow by themselves.">
      <Layout>
        <Layout.Section variant="oneHalf">
          <CatalogSyncCard kind="products" />
        </Layout.Section>
        <Layout.Section variant="oneHalf">
          <CatalogSyncCard kind="customers" />
        </Layout.Section>
      </Layout>
    </Page>
  );
}

function CatalogSyncCard({ kind }: { kind: Kind }) {
  const { api } = useApp();
  const words = WORDS[kind];
  const [scope, setScope] = useState<"all" | "ids" | "since">("all");
  const [ids, setIds] = useState("");
  const [since, setSince] = useState("");
  const [sync, setSync] = useState<CatalogSync | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);

  const refresh = async () => {
    try {
      const answer = await api.get<{ fortnox_sync: CatalogSync }>(`/admin/api/${kind}/fortnox_sync_status.json${sync ? `?job_id=${sync.id}` : ""}`);
      setSync(answer.fortnox_sync);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) setFailure(errorText(error));
    }
  };
  useEffect(() => {
    void refresh();
  }, []);
  useInterval(() => void refresh(), 1000, sync?.status === "running");

  const start = async () => {
    setStarting(true);
    setFailure(null);
    setFieldError(null);
    const body: Record<string, unknown> = {};
    if (scope === "ids") body.ids = ids.split(/[\s,]+/).filter(Boolean);
    if (scope === "since" && since) body.updated_since = `${since}T00:00:00+00:00`;
    try {
      const answer = await api.post<{ fortnox_sync: CatalogSync }>(`/admin/api/${kind}/fortnox_sync.json`, body);
      setSync(answer.fortnox_sync);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && error.body.fortnox_sync) {
        setSync(error.body.fortnox_sync as CatalogSync);
        setFailure(`A ${words.one} sync is already running: following it below.`);
      } else if (error instanceof ApiError && error.status === 422) {
        setFieldError(error.message);
      } else {
        setFailure(errorText(error));
      }
    } finally {
      setStarting(false);
    }
  };

  const progressId = `${kind}-progress`;
  const running = sync?.status === "running";
  const valid = scope === "all" || (scope === "ids" ? /\d/.test(ids) : !!since);
  return (
    <Card>
      <section aria-labelledby={`${kind}-title`} data-catalog={kind}>
        <BlockStack gap="400">
          <BlockStack gap="100">
            <Text as="h2" variant="headingMd" id={`${kind}-title`}>
              {words.title}
            </Text>
            <Text as="p" tone="subdued">
              {words.what}
            </Text>
          </BlockStack>
          <ChoiceList
            title={`Which ${words.items}`}
            choices={[
              { label: `All ${words.items}`, value: "all" },
              {
                label: `Only some, by Shopify id`,
                value: "ids",
                renderChildren: (selected) =>
                  selected && (
                    <TextField
                      label={`${words.title} ids`}
                      labelHidden
                      value={ids}
                      onChange={setIds}
                      placeholder="7000000000001, 7000000000002"
                      autoComplete="off"
                      error={scope === "ids" ? (fieldError ?? undefined) : undefined}
                    />
                  ),
              },
              {
                label: `Those updated since a date`,
                value: "since",
                renderChildren: (selected) =>
                  selected && (
                    <TextField
                      label="Updated since"
                      labelHidden
                      type="date"
                      value={since}
                      onChange={setSince}
                      autoComplete="off"
                      error={scope === "since" ? (fieldError ?? undefined) : undefined}
                    />
                  ),
              },
            ]}
            selected={[scope]}
            onChange={([value]) => setScope(value as typeof scope)}
          />
          <InlineStack>
            <Button variant="primary" onClick={() => void start()} loading={starting} disabled={running || !valid}>
              {`Sync ${words.items} to Fortnox`}
            </Button>
          </InlineStack>
          {failure && (
            <Banner tone="warning" onDismiss={() => setFailure(null)}>
              <p>{failure}</p>
            </Banner>
          )}
          {sync && (
            <BlockStack gap="200">
              <InlineStack gap="200" blockAlign="center">
                <Text as="h3" variant="headingSm" id={progressId}>
                  {running ? `Syncing ${words.items}: ${percent(sync)} %` : `Last sync: ${percent(sync)} %`}
                </Text>
                <Badge tone={sync.status === "finished" ? "success" : sync.status === "failed" ? "critical" : "info"}>
                  {sync.status === "finished" ? "Done" : sync.status === "failed" ? "Stopped" : "Running"}
                </Badge>
              </InlineStack>
              <ProgressBar
                progress={percent(sync)}
                tone={sync.status === "failed" ? "critical" : "success"}
                animated={running}
                ariaLabelledBy={progressId}
              />
              <Text as="p" tone="subdued">
                {`${sync.done} synced, ${sync.failed} failed, ${sync.skipped} skipped of ${sync.total}${sync.paged_all ? "" : " found so far"}. Started ${when(sync.started_at)}${sync.finished_at ? `, finished ${when(sync.finished_at)}` : ""}.`}
              </Text>
              {sync.error && (
                <Banner tone="critical" title="The sync stopped">
                  <p>{sync.error}</p>
                </Banner>
              )}
              {sync.failures && sync.failures.length > 0 && (
                <BlockStack gap="100">
                  <Text as="h3" variant="headingSm">
                    {`Not synced (${sync.failed + sync.skipped})`}
                  </Text>
                  <List type="bullet">
                    {sync.failures.map((item) => (
                      <List.Item key={item.id}>
                        {`${words.one[0].toUpperCase()}${words.one.slice(1)} ${item.id}: ${item.status === "skipped" ? "skipped" : "failed"}${item.error ? `: ${item.error}` : ""}`}
                      </List.Item>
                    ))}
                  </List>
                </BlockStack>
              )}
            </BlockStack>
          )}
        </BlockStack>
      </section>
    </Card>
  );
}
