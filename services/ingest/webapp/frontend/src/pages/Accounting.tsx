// Accounting: the period reconciliation report (Shopify beside Fortnox, every difference
// listed, CSV to download) and the backfill of past orders (a dry run first, then the import,
// followed by a progress bar).
import { Badge, Banner, BlockStack, Button, Card, DataTable, InlineStack, Layout, List, Page, ProgressBar, Text, TextField } from "@shopify/polaris";
import { useEffect, useState } from "react";
import { ApiError, errorText } from "../api";
import { ScopeNotice } from "../components/ScopeNotice";
import { useApp } from "../context";
import { when } from "../format";
import { useInterval } from "../hooks";
import type { Backfill, ReconciliationReport, ShopifyAccess } from "../types";

const STAGES: Record<string, string> = {
  shopify: "Reading Shopify's orders",
  fortnox: "Reading Fortnox's documents (behind live orders)",
  comparing: "Comparing",
};

export function Accounting() {
  return (
    <Page title="Accounting" subtitle="Tie a period out between Shopify and Fortnox, and bring in past orders.">
      <Layout>
        <Layout.Section>
          <ReportCard />
        </Layout.Section>
        <Layout.Section>
          <BackfillCard />
        </Layout.Section>
      </Layout>
    </Page>
  );
}

function ReportCard() {
  const { api } = useApp();
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [report, setReport] = useState<ReconciliationReport | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const path = report ? `/admin/api/reconciliation_reports/${report.id}` : null;

  const refresh = async () => {
    if (!path) return;
    try {
      const answer = await api.get<{ reconciliation_report: ReconciliationReport }>(`${path}.json`);
      setReport(answer.reconciliation_report);
    } catch (error) {
      setFailure(errorText(error));
    }
  };
  useInterval(() => void refresh(), 1500, report?.status === "running");

  const start = async () => {
    setStarting(true);
    setFailure(null);
    try {
      const answer = await api.post<{ reconciliation_report: ReconciliationReport }>("/admin/api/reconciliation_reports.json", { from, to });
      setReport(answer.reconciliation_report);
    } catch (error) {
      setFailure(errorText(error));
    } finally {
      setStarting(false);
    }
  };

  const download = async () => {
    if (!path) return;
    try {
      const answer = await api.csv(`${path}.csv`);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([answer], { type: "text/csv" }));
      link.download = `reconciliation-${report?.period.from}-${report?.period.to}.csv`;
      link.click();
    } catch (error) {
      setFailure(errorText(error));
    }
  };

  const body = report?.report;
  return (
    <Card>
      <section aria-labelledby="report-title" data-report>
        <BlockStack gap="400">
          <BlockStack gap="100">
            <Text as="h2" variant="headingMd" id="report-title">
              Reconciliation report
            </Text>
            <Text as="p" tone="subdued">
              Every order, refund and payment of the period in Shopify beside its Fortnox documents and payments, read from both.
            </Text>
          </BlockStack>
          <InlineStack gap="300" blockAlign="end">
            <TextField label="First day" type="date" value={from} onChange={setFrom} autoComplete="off" />
            <TextField label="Last day" type="date" value={to} onChange={setTo} autoComplete="off" />
            <Button variant="primary" onClick={() => void start()} loading={starting} disabled={!from || !to || report?.status === "running"}>
              Make the report
            </Button>
          </InlineStack>
          {failure && (
            <Banner tone="warning" onDismiss={() => setFailure(null)}>
              <p>{failure}</p>
            </Banner>
          )}
          {report && report.status === "running" && (
            <BlockStack gap="200">
              <Text as="p" id="report-stage">{STAGES[report.stage ?? ""] ?? "Starting"}…</Text>
              <ProgressBar progress={report.stage === "comparing" ? 90 : report.stage === "fortnox" ? 50 : 10} animated ariaLabelledBy="report-stage" />
            </BlockStack>
          )}
          {report?.status === "failed" && (
            <Banner tone="critical" title="The report stopped">
              <p>{report.error}</p>
            </Banner>
          )}
          {body && (
            <BlockStack gap="300">
              <InlineStack gap="200" blockAlign="center">
                <Text as="h3" variant="headingSm">{`${report?.period.from} to ${report?.period.to}`}</Text>
                <Badge tone={body.differences.length ? "warning" : "success"}>
                  {body.differences.length ? `${body.differences.length} differences` : "Ties out"}
                </Badge>
                <Button onClick={() => void download()}>Download CSV</Button>
              </InlineStack>
              <DataTable
                columnContentTypes={["text", "numeric", "numeric", "numeric", "numeric", "numeric"]}
                headings={["Side", "Documents", "Total", "VAT", "Refunded / credited", "Paid"]}
                rows={[
                  ["Shopify", body.totals.shopify.orders, body.totals.shopify.total, body.totals.shopify.vat, body.totals.shopify.refunded, body.totals.shopify.paid],
                  ["Fortnox", body.totals.fortnox.invoices, body.totals.fortnox.total, body.totals.fortnox.vat, body.totals.fortnox.credited, body.totals.fortnox.paid],
                ]}
              />
              <DataTable
                columnContentTypes={["text", "numeric", "numeric", "numeric", "numeric"]}
                headings={["VAT rate", "Shopify orders", "Fortnox invoices", "Shopify refunds", "Fortnox credits"]}
                rows={body.by_vat_rate.map((row) => [`${row.rate} %`, row.shopify_orders_vat, row.fortnox_invoices_vat, row.shopify_refunds_vat, row.fortnox_credits_vat])}
              />
              {body.differences.length > 0 && (
                <List type="bullet">
                  {body.differences.slice(0, 200).map((d, n) => (
                    <List.Item key={n}>
                      {`${d.order_name ?? d.order_id}: ${d.kind} ${d.what}${d.difference ? ` (Shopify ${d.shopify}, Fortnox ${d.fortnox})` : ""}${d.document ? `, Fortnox ${d.document}` : ""}`}
                    </List.Item>
                  ))}
                </List>
              )}
            </BlockStack>
          )}
        </BlockStack>
      </section>
    </Card>
  );
}

function percent(job: Backfill): number {
  if (job.status === "finished") return 100;
  if (!job.total) return 0;
  const share = Math.floor((job.done / job.total) * 100);
  return job.paged_all ? share : Math.min(share, 99); // more orders may come
}

function BackfillCard() {
  const { api } = useApp();
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [job, setJob] = useState<Backfill | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [scope, setScope] = useState<ShopifyAccess | null>(null);
  const [starting, setStarting] = useState(false);

  const refresh = async () => {
    try {
      const answer = await api.get<{ backfill: Backfill }>(`/admin/api/backfills.json${job ? `?job_id=${job.id}` : ""}`);
      setJob(answer.backfill);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) setFailure(errorText(error));
    }
  };
  useEffect(() => {
    void refresh();
  }, []);
  useInterval(() => void refresh(), 1000, job?.status === "running");

  const start = async (dryRun: boolean) => {
    setStarting(true);
    setFailure(null);
    setScope(null);
    const body = { from: `${from}T00:00:00+00:00`, to: `${to}T23:59:59+00:00`, dry_run: dryRun };
    try {
      const answer = await api.post<{ backfill: Backfill }>("/admin/api/backfills.json", body);
      setJob(answer.backfill);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && error.body.backfill) {
        setJob(error.body.backfill as Backfill);
        setFailure("A backfill is already running: following it below.");
      } else if (error instanceof ApiError && typeof error.body.reauthorize_url === "string") {
        // Older than 60 days without read_all_orders: what to do, and the link that asks for it.
        const missing = (error.body.missing_scopes as string[] | undefined) ?? [];
        setScope({ feature: "all_orders", scopes: missing, missing_scopes: missing, granted: false, what_to_do: error.message, reauthorize_url: error.body.reauthorize_url });
      } else {
        setFailure(errorText(error));
      }
    } finally {
      setStarting(false);
    }
  };

  const running = job?.status === "running";
  const counts = job ? Object.entries(job.counts).filter(([, n]) => n > 0).map(([name, n]) => `${n} ${name.replace("_", " ")}`).join(", ") : "";
  return (
    <Card>
      <section aria-labelledby="backfill-title" data-backfill>
        <BlockStack gap="400">
          <BlockStack gap="100">
            <Text as="h2" variant="headingMd" id="backfill-title">
              Past orders
            </Text>
            <Text as="p" tone="subdued">
              Bring in orders from before Fortbridge. Try it first: the dry run writes nothing and says per order what would be made and what Fortnox already has. Orders Fortnox already has are matched, not made twice; live orders always go first.
            </Text>
          </BlockStack>
          <InlineStack gap="300" blockAlign="end">
            <TextField label="Created from" type="date" value={from} onChange={setFrom} autoComplete="off" />
            <TextField label="Created until" type="date" value={to} onChange={setTo} autoComplete="off" />
            <Button onClick={() => void start(true)} loading={starting} disabled={!from || !to || running}>
              Dry run
            </Button>
            <Button variant="primary" onClick={() => void start(false)} loading={starting} disabled={!from || !to || running || !(job?.dry_run && job.status === "finished")}>
              Import them
            </Button>
          </InlineStack>
          {scope && <ScopeNotice access={scope} />}
          {failure && (
            <Banner tone="warning" onDismiss={() => setFailure(null)}>
              <p>{failure}</p>
            </Banner>
          )}
          {job && (
            <BlockStack gap="200">
              <InlineStack gap="200" blockAlign="center">
                <Text as="h3" variant="headingSm" id="backfill-progress">
                  {`${job.dry_run ? "Dry run" : "Import"}: ${percent(job)} %`}
                </Text>
                <Badge tone={job.status === "finished" ? "success" : job.status === "failed" ? "critical" : "info"}>
                  {job.status === "finished" ? "Done" : job.status === "failed" ? "Stopped" : "Running"}
                </Badge>
              </InlineStack>
              <ProgressBar progress={percent(job)} tone={job.status === "failed" ? "critical" : "success"} animated={running} ariaLabelledBy="backfill-progress" />
              <Text as="p" tone="subdued">
                {`${job.total} orders${job.paged_all ? "" : " found so far"}: ${counts || "none yet"}. Started ${when(job.started_at)}${job.finished_at ? `, finished ${when(job.finished_at)}` : ""}.`}
              </Text>
              {job.dry_run && job.status === "finished" && (
                <Text as="p" id="backfill-in-fortnox">
                  {`Fortnox already has ${job.counts.would_match ?? 0} of them: they will be matched, not made twice.`}
                </Text>
              )}
              {job.error && (
                <Banner tone="critical" title="The backfill stopped">
                  <p>{job.error}</p>
                </Banner>
              )}
            </BlockStack>
          )}
        </BlockStack>
      </section>
    </Card>
  );
}
