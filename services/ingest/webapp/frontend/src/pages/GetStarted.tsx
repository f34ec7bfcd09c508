// Get started: a checklist that reflects what is true now: Shopify installed, Fortnox connected
// (which company; reconnect with the reason), the Fortnox setup check, the settings, the first
// order synced, and (in development) a test order.
import { Banner, BlockStack, Button, Card, InlineStack, Layout, Link, Modal, Page, Text } from "@shopify/polaris";
import { useEffect, useState } from "react";
import { ApiError, errorText } from "../api";
import { Preflight } from "../components/PreflightSlot";
import { Step, type StepState } from "../components/Step";
import { useApp } from "../context";
import { when } from "../format";
import { useInterval, useLoad } from "../hooks";
import type { Connection, Installation, MappingRule, OrderDocument, SettingsAnswer } from "../types";

const INSTALLATION = "/admin/api/integrations/shopify/installation.json";
const CONNECTION = "/admin/api/integrations/fortnox/connection.json";
const SETTINGS = "/admin/api/integrations/fortnox/settings.json";
const RULES = "/admin/api/integrations/fortnox/mapping_rules.json";
const SYNCED = "/admin/api/orders/fortnox_invoices.json?status=synced&limit=1";
const START = "/auth/fortnox/start.json";
const TEST_ORDER = "/_dev/test_order.json";

// What the Fortnox callback says when it sends the merchant back here:
// ?fortnox=connected[&switched=1] or ?fortnox=error&reason=<code> (read once, then removed).
function returnedFromFortnox(): { connected: boolean; switched: boolean; error: string | null } | null {
  const params = new URLSearchParams(window.location.search);
  const flag = params.get("fortnox");
  if (!flag) return null;
  const error = flag === "connected" ? null : (params.get("reason") ?? flag);
  const switched = params.get("switched") === "1";
  for (const name of ["fortnox", "reason", "switched"]) params.delete(name);
  const search = params.toString();
  window.history.replaceState(null, "", `${window.location.pathname}${search ? `?${search}` : ""}`);
  return { connected: error === null, switched, error };
}

// The writer's reasons (services/fortnox_writer: routes.py, switching.py, connect_flow.py).
const REASONS: Record<string, string> = {
  denied: "you did not allow Fortbridge in Fortnox",
  expired: "the connection took too long",
  state_used: "that sign-in was already used",
  invalid_state: "the sign-in could not be checked, perhaps it was started in another browser",
  no_code: "Fortnox sent no authorization",
  company_mismatch: "you signed in to another Fortnox company than the one the shop uses",
  company_changed: "the shop's connection changed meanwhile",
};

function companyOf(connection: Connection): string {
  if (connection.company_name) return connection.company_name;
  return connection.tenant_id ? `Fortnox company ${connection.tenant_id}` : "your Fortnox company";
}

export function GetStarted() {
  const { api, session, config } = useApp();
  const [returned] = useState(returnedFromFortnox);
  const installation = useLoad(() => api.get<{ installation: Installation }>(INSTALLATION));
  const connection = useLoad(() => api.get<{ connection: Connection }>(CONNECTION));
  const settings = useLoad(() => api.get<SettingsAnswer>(SETTINGS));
  const synced = useLoad(() => api.get<{ orders: OrderDocument[] }>(SYNCED));
  const [busy, setBusy] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [confirmSwitch, setConfirmSwitch] = useState(false);
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const [testOrder, setTestOrder] = useState<{ name: string; id: string } | null>(null);

  // After a test order, follow it until it has synced.
  const waiting = testOrder !== null && !synced.data?.orders.some((o) => o.order_id === testOrder.id);
  useInterval(() => void synced.reload(), 1000, waiting);
  useEffect(() => {
    if (returned) void connection.reload();
  }, []);

  // Inside Shopify admin, a shop Shopify installed the app on (managed install) but that
  // Fortbridge holds no access token for yet gets one now, from the session token.
  const [exchanged, setExchanged] = useState(false);
  useEffect(() => {
    const status = installation.data?.installation.status;
    if (!config.embedded || exchanged || !status || status === "installed") return;
    setExchanged(true);
    void finishInstall();
  }, [installation.data, config.embedded, exchanged]);

  const act = async (name: string, work: () => Promise<void>) => {
    setBusy(name);
    setFailure(null);
    try {
      await work();
    } catch (error) {
      setFailure(errorText(error));
    } finally {
      setBusy(null);
    }
  };

  const connect = (switchCompany: boolean) =>
    act("connect", async () => {
      const features = await featuresNeeded();
      const answer = await api.post<{ launch_url: string }>(START, { features, switch_company: switchCompany });
      // Fortnox's consent page cannot be framed: a new tab inside Shopify admin, else this window.
      if (session.embedded) window.open(answer.launch_url, "_blank", "noopener");
      else window.open(answer.launch_url, "_top");
    });

  const release = (action: "release" | "discard") =>
    act(action, async () => {
      await api.post("/admin/api/integrations/fortnox/connection/release.json", { action });
      await connection.reload();
    });

  const featuresNeeded = async (): Promise<string[]> => {
    const features = new Set(["invoices", "payments"]);
    const current = settings.data?.settings ?? (await api.get<SettingsAnswer>(SETTINGS)).settings;
    const rules = (await api.get<{ mapping_rules: MappingRule[] }>(RULES)).mapping_rules;
    if (current.document_kind === "order" || rules.some((r) => r.actions.document_kind === "order")) {
      features.add("orders");
    }
    return [...features];
  };

  const finishInstall = () =>
    act("install", async () => {
      await api.post("/auth/shopify/token_exchange");
      await installation.reload();
    });

  const sendTestOrder = () =>
    act("test", async () => {
      try {
        const answer = await api.post<{ order_id: string; name: string }>(TEST_ORDER);
        setTestOrder({ id: answer.order_id, name: answer.name });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          throw new Error("Test orders need the local demo stack: run `fortbridge demo --serve`.");
        }
        throw error;
      }
    });

  const install = installation.data?.installation;
  const installState: StepState = installation.error
    ? "attention"
    : !install
      ? "loading"
      : install.status === "installed" && !install.missing_scopes?.length
        ? "done"
        : "attention";

  const fortnox = connection.data?.connection;
  const fortnoxState: StepState = connection.error
    ? "attention"
    : !fortnox
      ? "loading"
      : fortnox.status === "connected"
        ? fortnox.held_commands
          ? "attention"
          : "done"
        : fortnox.status === "needs_reconnection"
          ? "attention"
          : "todo";

  const saved = settings.data;
  const settingsState: StepState = !saved ? (settings.error ? "attention" : "loading") : saved.version > 0 ? "done" : "todo";
  const firstSynced = synced.data?.orders[0];
  const orderState: StepState = firstSynced ? "done" : synced.error ? "attention" : "todo";

  return (
    <Page title="Get started" subtitle="Fortbridge turns your Shopify orders into Fortnox invoices.">
      <Layout>
        <Layout.Section>
          <BlockStack gap="400">
            {returned?.connected && (
              <Banner tone="success" title={returned.switched ? "Fortnox is connected to the new company" : "Fortnox is connected"}>
                <p>New orders now become documents in Fortnox.</p>
              </Banner>
            )}
            {returned?.error && (
              <Banner tone="critical" title="Fortnox was not connected">
                <BlockStack gap="200">
                  <p>
                    {returned.error === "company_mismatch"
                      ? `You signed in to another Fortnox company than the one the shop uses${
                          fortnox?.tenant_id ? ` (${companyOf(fortnox)})` : ""
                        }; nothing was changed. To sync to that company from now on, switch companies.`
                      : `Fortnox sent you back without a connection (${REASONS[returned.error] ?? returned.error}). Try connecting again.`}
                  </p>
                  {returned.error === "company_mismatch" && (
                    <InlineStack>
                      <Button onClick={() => setConfirmSwitch(true)}>Switch to the other company</Button>
                    </InlineStack>
                  )}
                </BlockStack>
              </Banner>
            )}
            {failure && (
              <Banner tone="critical" title="That did not work" onDismiss={() => setFailure(null)}>
                <p>{failure}</p>
              </Banner>
            )}
            <Card>
              <BlockStack gap="200">
                <Text as="h2" variant="headingMd">
                  Set up Fortbridge
                </Text>
                <ol style={{ margin: 0, padding: 0 }}>
                  <Step
                    id="shopify"
                    state={installState}
                    title="Install Fortbridge on your shop"
                    action={
                      install && install.status !== "installed" && config.embedded ? (
                        <Button onClick={finishInstall} loading={busy === "install"}>
                          Finish installing
                        </Button>
                      ) : undefined
                    }
                  >
                    <Text as="p" tone={installState === "attention" ? "critical" : "subdued"}>
                      {installation.error ?? install?.what_to_do ?? install?.meaning ?? "Checking…"}
                    </Text>
                  </Step>
                  <Step
                    id="fortnox"
                    state={fortnoxState}
                    title="Connect Fortnox"
                    action={
                      fortnox ? (
                        fortnox.status === "connected" ? (
                          <Button onClick={() => setConfirmSwitch(true)} disabled={busy !== null}>
                            Switch Fortnox company
                          </Button>
                        ) : (
                          <>
                            <Button variant="primary" onClick={() => connect(false)} loading={busy === "connect"}>
                              {fortnox.status === "needs_reconnection" ? "Reconnect Fortnox" : "Connect Fortnox"}
                            </Button>
                            {fortnox.status === "needs_reconnection" && (
                              <Button onClick={() => setConfirmSwitch(true)} disabled={busy !== null}>
                                Connect another company
                              </Button>
                            )}
                          </>
                        )
                      ) : undefined
                    }
                  >
                    {connection.error && <Text as="p" tone="critical">{connection.error}</Text>}
                    {fortnox?.status === "connected" && (
                      <Text as="p">
                        Connected to <strong>{companyOf(fortnox)}</strong>.
                      </Text>
                    )}
                    {!!fortnox?.held_commands && (
                      <BlockStack gap="200">
                        <Text as="p" tone="caution">
                          {`${fortnox.held_commands} sync${fortnox.held_commands === 1 ? " was" : "s were"} made for the Fortnox company you used before (${
                            fortnox.switched_from_tenant_id ? `company ${fortnox.switched_from_tenant_id}` : "the previous one"
                          }) and ${fortnox.held_commands === 1 ? "is" : "are"} held back. Send ${fortnox.held_commands === 1 ? "it" : "them"} to ${companyOf(fortnox)}, or discard ${fortnox.held_commands === 1 ? "it" : "them"}.`}
                        </Text>
                        <InlineStack gap="200">
                          <Button onClick={() => release("release")} loading={busy === "release"}>
                            {`Send to ${companyOf(fortnox)}`}
                          </Button>
                          <Button tone="critical" onClick={() => setConfirmDiscard(true)} loading={busy === "discard"}>
                            {fortnox.held_commands === 1 ? "Discard it" : "Discard them"}
                          </Button>
                        </InlineStack>
                      </BlockStack>
                    )}
                    {fortnox?.status === "needs_reconnection" && (
                      <BlockStack gap="100">
                        <Text as="p" tone="critical">
                          Fortnox needs to be connected again: {fortnox.reason ?? fortnox.meaning}
                        </Text>
                        {fortnox.what_to_do && <Text as="p">{fortnox.what_to_do}</Text>}
                        {!!fortnox.parked_commands && (
                          <Text as="p" tone="subdued">
                            {fortnox.parked_commands === 1
                              ? "1 sync is waiting and will run by itself once you reconnect."
                              : `${fortnox.parked_commands} syncs are waiting and will run by themselves once you reconnect.`}
                          </Text>
                        )}
                      </BlockStack>
                    )}
                    {fortnox?.status === "not_connected" && (
                      <Text as="p" tone="subdued">
                        Sign in to Fortnox and allow Fortbridge to create customers, articles and invoices.
                      </Text>
                    )}
                  </Step>
                  <Preflight />
                  <Step
                    id="settings"
                    state={settingsState}
                    title="Choose how orders are booked"
                    action={<Button url="/settings">{saved && saved.version > 0 ? "Change settings" : "Review settings"}</Button>}
                  >
                    <Text as="p" tone="subdued">
                      {saved
                        ? `${describe(saved)}${saved.version > 0 ? ` Saved ${when(saved.updated_at)}.` : " These are the defaults."}`
                        : (settings.error ?? "Checking…")}
                    </Text>
                  </Step>
                  <Step
                    id="first-order"
                    state={orderState}
                    title="Orders in Fortnox"
                    action={
                      <>
                        {config.devLogin && (
                          <Button onClick={sendTestOrder} loading={busy === "test" || waiting}>
                            Send a test order
                          </Button>
                        )}
                        <Button url="/orders" variant="plain">
                          See all orders
                        </Button>
                      </>
                    }
                  >
                    <Text as="p" tone="subdued">
                      {firstSynced
                        ? `The latest: order ${firstSynced.order_name ?? firstSynced.order_id} became Fortnox ${firstSynced.document_kind ?? "invoice"} ${firstSynced.document_number}.`
                        : "When your shop's next order comes in, it appears here with its Fortnox invoice."}
                    </Text>
                    {testOrder && (
                      <Text as="p">
                        {waiting
                          ? `Test order ${testOrder.name} sent; waiting for Fortnox…`
                          : `Test order ${testOrder.name} is in Fortnox.`}
                      </Text>
                    )}
                  </Step>
                </ol>
              </BlockStack>
            </Card>
          </BlockStack>
        </Layout.Section>
        <Layout.Section variant="oneThird">
          <Card>
            <BlockStack gap="200">
              <Text as="h2" variant="headingMd">
                When something fails
              </Text>
              <Text as="p">
                Fortbridge keeps every sync that fails, explains it in plain English and retries it when you have fixed
                the cause. See <Link url="/failed">Failed syncs</Link>.
              </Text>
              <InlineStack>
                <Button url="/failed">Failed syncs</Button>
              </InlineStack>
            </BlockStack>
          </Card>
        </Layout.Section>
      </Layout>
      <Modal
        open={confirmDiscard}
        onClose={() => setConfirmDiscard(false)}
        title="Discard the held-back syncs?"
        primaryAction={{
          content: "Discard them",
          destructive: true,
          onAction: () => {
            setConfirmDiscard(false);
            void release("discard");
          },
        }}
        secondaryActions={[{ content: "Cancel", onAction: () => setConfirmDiscard(false) }]}
      >
        <Modal.Section>
          <Text as="p">
            They are not sent to any Fortnox company. Each order's history says so; book them by hand if they belong in
            your books.
          </Text>
        </Modal.Section>
      </Modal>
      <Modal
        open={confirmSwitch}
        onClose={() => setConfirmSwitch(false)}
        title="Switch to another Fortnox company?"
        primaryAction={{
          content: "Switch company",
          destructive: true,
          loading: busy === "connect",
          onAction: () => {
            setConfirmSwitch(false);
            void connect(true);
          },
        }}
        secondaryActions={[{ content: "Cancel", onAction: () => setConfirmSwitch(false) }]}
      >
        <Modal.Section>
          <Text as="p">
            New orders will be synced to the company you choose in Fortnox. Documents already made stay in{" "}
            {fortnox ? companyOf(fortnox) : "the current company"}.
          </Text>
        </Modal.Section>
      </Modal>
    </Page>
  );
}

function describe(answer: SettingsAnswer): string {
  const s = answer.settings;
  if (s.document_kind === "none") return "No Fortnox documents are made.";
  const kind = s.document_kind === "order" ? "A Fortnox order" : "A Fortnox invoice";
  const trigger = { create: "is created", paid: "is paid", fulfilled: "is fulfilled" }[s.trigger];
  const booked = s.document_kind === "invoice" ? (s.bookkeep_invoices ? ", bookkept" : ", as a draft") : "";
  return `${kind} is made when an order ${trigger}${booked}.`;
}
