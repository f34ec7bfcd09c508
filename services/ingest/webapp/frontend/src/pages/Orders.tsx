// Orders: the shop's recent orders with their Fortnox document, totals on both sides and the
// last error explained; filter by status; sync now or re-sync one.
import {
  Badge,
  Banner,
  BlockStack,
  Box,
  Button,
  Card,
  Form,
  IndexTable,
  InlineStack,
  Page,
  Pagination,
  Tabs,
  Text,
  TextField,
} from "@shopify/polaris";
import { useEffect, useState } from "react";
import { errorText, query } from "../api";
import { useApp } from "../context";
import { money, statusOf, when } from "../format";
import { useInterval, useLoad } from "../hooks";
import type { OrderDocument } from "../types";

const LIST = "/admin/api/orders/fortnox_invoices.json";
const FILTERS = [
  { id: "all", content: "All", status: "" },
  { id: "failed", content: "Failed", status: "failed" },
  { id: "pending", content: "Waiting", status: "pending" },
  { id: "synced", content: "Synced", status: "synced" },
  { id: "needs_reconnection", content: "Waiting for Fortnox", status: "needs_reconnection" },
  { id: "waiting_on_billing", content: "Waiting on billing", status: "waiting_on_billing" },
  { id: "skipped", content: "Skipped", status: "skipped" },
];
const PAGE_SIZE = 25;

function totalsMatch(order: OrderDocument): boolean | null {
  if (!order.fortnox_total || !order.order_total) return null;
  return Number(order.fortnox_total) === Number(order.order_total);
}

export function Orders() {
  const { api } = useApp();
  const [tab, setTab] = useState(0);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [notice, setNotice] = useState<{ tone: "success" | "critical"; text: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [orderId, setOrderId] = useState("");
  const [refreshSoon, setRefreshSoon] = useState(0); // after a sync request: follow for a while
  const cursor = cursors[cursors.length - 1];
  const status = FILTERS[tab].status;
  const list = useLoad(
    () => api.get<{ orders: OrderDocument[]; next_cursor: string | null }>(LIST + query({ status, limit: PAGE_SIZE, cursor })),
    [status, cursor],
  );

  // While an order waits for Fortnox, the list follows it closely; otherwise every 15 s.
  const waiting = (list.data?.orders ?? []).some((order) => order.status === "pending");
  useInterval(() => void list.reload(), waiting || refreshSoon > 0 ? 2000 : 15_000, !list.loading);
  useEffect(() => {
    if (refreshSoon === 0) return;
    const id = window.setTimeout(() => setRefreshSoon(0), 10_000);
    return () => window.clearTimeout(id);
  }, [refreshSoon]);

  const sync = async (id: string, method: "POST" | "PUT", label: string) => {
    setBusy(`${method}:${id}`);
    setNotice(null);
    try {
      const answer = await api.call<{ created?: boolean }>(method, `/admin/api/orders/${id}/fortnox_invoice.json`);
      setNotice({
        tone: "success",
        text:
          method === "POST" && answer.created === false
            ? `Order ${label} is already in Fortnox: nothing new was made.`
            : `Order ${label} is being synced. Its status updates here in a moment.`,
      });
      setRefreshSoon((n) => n + 1);
    } catch (error) {
      setNotice({ tone: "critical", text: errorText(error) });
    } finally {
      setBusy(null);
    }
  };

  const orders = list.data?.orders ?? [];
  const rows = orders.map((order, index) => {
    const look = statusOf(order.status);
    const match = totalsMatch(order);
    const label = order.order_name ?? order.order_id;
    return (
      <IndexTable.Row id={order.order_id} key={order.order_id} position={index}>
        <IndexTable.Cell>
          <Text as="span" fontWeight="semibold">
            {label}
          </Text>
        </IndexTable.Cell>
        <IndexTable.Cell>
          <Badge tone={look.tone}>{look.label}</Badge>
        </IndexTable.Cell>
        <IndexTable.Cell>
          {order.document_number ? `${order.document_kind === "order" ? "Order" : "Invoice"} ${order.document_number}` : "—"}
        </IndexTable.Cell>
        <IndexTable.Cell>
          <Text as="span" alignment="end" numeric>
            {money(order.order_total, order.currency)}
          </Text>
        </IndexTable.Cell>
        <IndexTable.Cell>
          <InlineStack gap="100" blockAlign="center" wrap={false}>
            <Text as="span" alignment="end" numeric>
              {money(order.fortnox_total, order.currency)}
            </Text>
            {match === false && <Badge tone="critical">Differs</Badge>}
          </InlineStack>
        </IndexTable.Cell>
        <IndexTable.Cell>
          <div style={{ whiteSpace: "normal", maxWidth: "26rem" }}>
            {order.last_error ? (
              <BlockStack gap="050">
                <Text as="p">{order.last_error.explanation ?? order.last_error.message}</Text>
                {order.last_error.code && (
                  <Text as="p" tone="subdued" variant="bodySm">
                    Fortnox code {order.last_error.code}
                    {order.last_error.message ? `: ${order.last_error.message}` : ""}
                  </Text>
                )}
              </BlockStack>
            ) : (
              <Text as="span" tone="subdued">
                {when(order.updated_at)}
              </Text>
            )}
          </div>
        </IndexTable.Cell>
        <IndexTable.Cell>
          {order.status === "synced" ? (
            <Button
              size="slim"
              onClick={() => sync(order.order_id, "PUT", label)}
              loading={busy === `PUT:${order.order_id}`}
              accessibilityLabel={`Re-sync order ${label}`}
            >
              Re-sync
            </Button>
          ) : (
            <Button
              size="slim"
              onClick={() => sync(order.order_id, "POST", label)}
              loading={busy === `POST:${order.order_id}`}
              accessibilityLabel={`Sync order ${label} now`}
            >
              Sync now
            </Button>
          )}
        </IndexTable.Cell>
      </IndexTable.Row>
    );
  });

  return (
    <Page
      title="Orders"
      subtitle="Each order's Fortnox document, with the totals on both sides."
      secondaryActions={[{ content: "Refresh", onAction: () => void list.reload() }]}
    >
      <BlockStack gap="400">
        {notice && (
          <Banner tone={notice.tone} onDismiss={() => setNotice(null)}>
            <p>{notice.text}</p>
          </Banner>
        )}
        {list.error && (
          <Banner tone="critical" title="The orders could not be loaded">
            <p>{list.error}</p>
          </Banner>
        )}
        <Card padding="0">
          <Tabs
            tabs={FILTERS.map(({ id, content }) => ({ id, content, panelID: `${id}-orders` }))}
            selected={tab}
            onSelect={(index) => {
              setTab(index);
              setCursors([null]);
            }}
          >
            <IndexTable
              resourceName={{ singular: "order", plural: "orders" }}
              itemCount={orders.length}
              selectable={false}
              loading={list.loading}
              emptyState={
                <Box padding="600">
                  <BlockStack gap="200" inlineAlign="center">
                    <Text as="p" variant="headingSm">
                      {status ? "No orders with this status" : "No orders yet"}
                    </Text>
                    <Text as="p" tone="subdued">
                      Orders appear here as soon as Shopify sends them to Fortbridge.
                    </Text>
                  </BlockStack>
                </Box>
              }
              headings={[
                { title: "Order" },
                { title: "Status" },
                { title: "Fortnox document" },
                { title: "Order total", alignment: "end" },
                { title: "Fortnox total", alignment: "end" },
                { title: "Last error / updated" },
                { title: "Actions", hidden: false },
              ]}
            >
              {rows}
            </IndexTable>
          </Tabs>
          <div style={{ padding: "12px", display: "flex", justifyContent: "center" }}>
            <Pagination
              hasPrevious={cursors.length > 1}
              onPrevious={() => setCursors((all) => all.slice(0, -1))}
              hasNext={!!list.data?.next_cursor}
              onNext={() => setCursors((all) => [...all, list.data?.next_cursor ?? null])}
              accessibilityLabels={{ previous: "Previous orders", next: "More orders" }}
            />
          </div>
        </Card>
        <Card>
          <Form onSubmit={() => void sync(orderId.trim(), "POST", orderId.trim())}>
            <BlockStack gap="200">
              <Text as="h2" variant="headingSm">
                Sync an order that is not listed
              </Text>
              <InlineStack gap="200" blockAlign="end">
                <div style={{ minWidth: "16rem" }}>
                  <TextField
                    label="Shopify order id"
                    value={orderId}
                    onChange={setOrderId}
                    autoComplete="off"
                    inputMode="numeric"
                    helpText="The number at the end of the order's address in Shopify admin."
                  />
                </div>
                <Button submit disabled={!/^\d+$/.test(orderId.trim())} loading={busy === `POST:${orderId.trim()}`}>
                  Sync now
                </Button>
              </InlineStack>
            </BlockStack>
          </Form>
        </Card>
      </BlockStack>
    </Page>
  );
}
