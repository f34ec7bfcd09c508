// Billing: the plan (15 free syncs, then a price per sync through Shopify), trial credits used,
// the usage charges' state and this cycle's amount against the cap, and what waits on billing
// with why; the merchant approves the charges (or a higher cap) at Shopify's confirmation URL.
import { Badge, Banner, BlockStack, Button, Card, DataTable, InlineStack, Layout, Page, ProgressBar, Text, TextField } from "@shopify/polaris";
import { useState } from "react";
import { ApiError, errorText } from "../api";
import { useApp } from "../context";
import { money, when, type Tone } from "../format";
import { useLoad } from "../hooks";
import type { BillingUsage } from "../types";

const SUBSCRIPTION: Record<string, { label: string; tone: Tone }> = {
  none: { label: "Not started", tone: undefined },
  PENDING: { label: "Waiting for your approval", tone: "attention" },
  ACTIVE: { label: "Active", tone: "success" },
  DECLINED: { label: "Declined", tone: "critical" },
  FROZEN: { label: "Frozen by Shopify", tone: "critical" },
  CANCELLED: { label: "Cancelled", tone: "critical" },
  EXPIRED: { label: "Expired", tone: "warning" },
};

export function Billing() {
  const { api, session } = useApp();
  const usage = useLoad(() => api.get<{ usage: BillingUsage }>("/admin/api/billing/usage.json"));
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [cap, setCap] = useState("");

  // Shopify's confirmation page opens at the top level (it cannot be framed in the admin).
  const go = (url: string) => {
    if (session.embedded) window.open(url, "_top");
    else window.location.assign(url);
  };
  const start = async () => {
    setBusy(true);
    setFailure(null);
    try {
      const answer = await api.post<{ subscription: { confirmation_url: string | null } }>("/admin/api/billing/subscription.json");
      if (answer.subscription.confirmation_url) go(answer.subscription.confirmation_url);
      else await usage.reload();
    } catch (error) {
      setFailure(errorText(error));
    } finally {
      setBusy(false);
    }
  };
  const raise = async () => {
    setBusy(true);
    setFailure(null);
    try {
      const answer = await api.post<{ capped_amount: { confirmation_url: string } }>("/admin/api/billing/capped_amount.json", { capped_amount: cap });
      go(answer.capped_amount.confirmation_url);
    } catch (error) {
      setFailure(error instanceof ApiError ? error.message : errorText(error));
    } finally {
      setBusy(false);
    }
  };

  // Shopify's confirmation page opens at the top level: a link the merchant can reach by keyboard.
  const approveLink = (url: string) => (
    <Button variant="primary" url={url} target={session.embedded ? "_top" : "_self"}>
      Approve the charges in Shopify
    </Button>
  );

  const data = usage.data?.usage;
  if (!data) {
    return (
      <Page title="Billing">
        {usage.error ? <Banner tone="critical" title="Could not load your usage">{usage.error}</Banner> : <Text as="p">Loading…</Text>}
      </Page>
    );
  }
  const sub = data.subscription;
  const state = SUBSCRIPTION[sub.status] ?? { label: sub.status, tone: undefined };
  const used = Number(sub.amount_used ?? "0");
  const capped = Number(sub.capped_amount ?? "0");
  const startable = ["none", "DECLINED", "CANCELLED", "EXPIRED"].includes(sub.status);
  const confirmation = sub.status === "PENDING" ? sub.confirmation_url : null;
  // The waiting banner carries the approval link when it shows; the card carries it otherwise.
  const waiting = data.waiting.count > 0;
  return (
    <Page title="Billing" subtitle={`${freeSyncs(data.trial.credits)}, then ${data.plan.terms}, billed by Shopify.`}>
      <Layout>
        {failure && (
          <Layout.Section>
            <Banner tone="critical" title="That did not work" onDismiss={() => setFailure(null)}>
              {failure}
            </Banner>
          </Layout.Section>
        )}
        {waiting && (
          <Layout.Section>
            <Banner tone="warning" title={`${data.waiting.count} ${plural(data.waiting.count, "sync")} waiting on billing`}>
              <BlockStack gap="200">
                <p>{data.waiting.reason}</p>
                <p>Nothing is lost: no order is skipped while it waits.</p>
                {confirmation && <InlineStack>{approveLink(confirmation)}</InlineStack>}
              </BlockStack>
            </Banner>
          </Layout.Section>
        )}
        {sub.approaching_cap_at && (
          <Layout.Section>
            <Banner tone="warning" title="Your usage is close to the cap you approved">
              Raise the cap below so syncs keep flowing this cycle.
            </Banner>
          </Layout.Section>
        )}
        <Layout.Section variant="oneHalf">
          <Card>
            <BlockStack gap="300">
              <Text as="h2" variant="headingMd">
                Free syncs
              </Text>
              <Text as="p">
                {data.trial.used} of {data.trial.credits} used, {data.trial.left} left.
              </Text>
              <ProgressBar progress={data.trial.credits ? (data.trial.used / data.trial.credits) * 100 : 100} size="small" />
              <Text as="p" tone="subdued">
                A sync is one Fortnox invoice or order made for one Shopify order, charged once whatever happens to the order later (duplicates, retries, edits, refunds, payments and cancellations are free).
              </Text>
            </BlockStack>
          </Card>
        </Layout.Section>
        <Layout.Section variant="oneHalf">
          <Card>
            <BlockStack gap="300">
              <InlineStack gap="200" blockAlign="center">
                <Text as="h2" variant="headingMd">
                  Usage charges
                </Text>
                <Badge tone={state.tone}>{state.label}</Badge>
                {data.plan.test && <Badge>Test charges</Badge>}
              </InlineStack>
              {sub.capped_amount && (
                <>
                  <Text as="p">
                    {money(sub.amount_used, sub.currency)} of {money(sub.capped_amount, sub.currency)} used this cycle ({data.syncs_billed_this_cycle} {plural(data.syncs_billed_this_cycle, "sync")} billed).
                  </Text>
                  <ProgressBar progress={capped ? Math.min(100, (used / capped) * 100) : 0} size="small" tone={used >= capped ? "critical" : "highlight"} />
                </>
              )}
              {confirmation && !waiting && <InlineStack>{approveLink(confirmation)}</InlineStack>}
              {startable && (
                <Button variant="primary" loading={busy} onClick={() => void start()}>
                  {sub.status === "none" ? "Start usage charges" : "Start usage charges again"}
                </Button>
              )}
              {sub.status === "ACTIVE" && (
                <InlineStack gap="200" blockAlign="end">
                  <TextField label="New cap per 30 days" value={cap} onChange={setCap} autoComplete="off" suffix={sub.currency} />
                  <Button loading={busy} disabled={!cap} onClick={() => void raise()}>
                    Raise the cap
                  </Button>
                </InlineStack>
              )}
            </BlockStack>
          </Card>
        </Layout.Section>
        {data.waiting.commands.length > 0 && (
          <Layout.Section>
            <Card>
              <BlockStack gap="200">
                <Text as="h2" variant="headingMd">
                  Waiting on billing
                </Text>
                <DataTable
                  columnContentTypes={["text", "text", "text"]}
                  headings={["Order", "Waiting since", "What"]}
                  rows={data.waiting.commands.map((c) => [c.order_name ?? c.order_id ?? "—", when(c.waiting_since), c.action === "create_document" ? "New Fortnox document" : c.action])}
                />
              </BlockStack>
            </Card>
          </Layout.Section>
        )}
      </Layout>
    </Page>
  );
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}

// "No free syncs", "1 free sync", "15 free syncs".
function freeSyncs(credits: number): string {
  return credits === 0 ? "No free syncs" : `${credits} free ${plural(credits, "sync")}`;
}
