// Failed syncs: grouped by cause, each cause explained with its fix; retry one, retry every open
// job of a cause (after seeing how many), discard with a reason; each job's history (audit log).
import {
  Badge,
  Banner,
  BlockStack,
  Box,
  Button,
  ButtonGroup,
  Card,
  Divider,
  InlineStack,
  List,
  Modal,
  Page,
  Select,
  Text,
  TextField,
} from "@shopify/polaris";
import { useState } from "react";
import { errorText, query } from "../api";
import { useApp } from "../context";
import { statusOf, when } from "../format";
import { useInterval, useLoad } from "../hooks";
import type { AuditEntry, Cause, FailedJob, OrderDocument } from "../types";

const API = "/admin/api/integrations/fortnox";
const STATUSES = [
  { label: "Open: waiting for you", value: "open" },
  { label: "Retried", value: "retrying" },
  { label: "Queued for a bulk retry", value: "queued" },
  { label: "Discarded", value: "discarded" },
];

interface Followed {
  jobId: string;
  orderId: string;
  label: string;
  before: string | null; // the document's updated_at when retried: a newer one is the outcome
  document: OrderDocument | null;
}

const SETTLED = ["synced", "failed", "skipped"];

function settled(item: Followed): boolean {
  return !!item.document && item.document.updated_at !== item.before && SETTLED.includes(item.document.status);
}

async function documentOf(api: { get<T>(path: string): Promise<T> }, orderId: string): Promise<OrderDocument | null> {
  try {
    const answer = await api.get<{ fortnox_invoice: OrderDocument }>(`/admin/api/orders/${orderId}/fortnox_invoice_status.json`);
    return answer.fortnox_invoice;
  } catch {
    return null;
  }
}

export function FailedSyncs() {
  const { api } = useApp();
  const [status, setStatus] = useState("open");
  const list = useLoad(
    () => api.get<{ failed_jobs: FailedJob[]; causes: Cause[] }>(`${API}/failed_jobs.json${query({ status, limit: 200 })}`),
    [status],
  );
  const [notice, setNotice] = useState<{ tone: "success" | "critical" | "info"; text: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [bulk, setBulk] = useState<{ cause: Cause; count: number } | null>(null);
  const [discarding, setDiscarding] = useState<FailedJob | null>(null);
  const [reason, setReason] = useState("");
  const [history, setHistory] = useState<{ job: FailedJob; entries: AuditEntry[] | null; error?: string } | null>(null);
  const [followed, setFollowed] = useState<Followed[]>([]);

  // A retried order is followed here until Fortnox has it (or it fails again).
  const following = followed.some((f) => !settled(f));
  useInterval(
    () => {
      void Promise.all(
        followed.map(async (item) => (settled(item) ? item : { ...item, document: (await documentOf(api, item.orderId)) ?? item.document })),
      ).then((updated) => {
        setFollowed(updated);
        if (updated.some((f) => settled(f) && f.document?.status === "failed")) void list.reload();
      });
    },
    1000,
    following,
  );

  const act = async (name: string, work: () => Promise<void>) => {
    setBusy(name);
    setNotice(null);
    try {
      await work();
    } catch (error) {
      setNotice({ tone: "critical", text: errorText(error) });
    } finally {
      setBusy(null);
    }
  };

  const retry = (job: FailedJob) =>
    act(`retry:${job.id}`, async () => {
      const orderId = job.object.type === "order" ? job.object.id : null;
      const before = orderId ? ((await documentOf(api, orderId))?.updated_at ?? null) : null;
      await api.put(`${API}/failed_jobs/${job.id}/retry.json`);
      const label = job.object.name ?? job.object.id ?? "the job";
      if (orderId) {
        // Followed in its own banner until Fortnox has it, or it fails again.
        const item = { jobId: job.id, orderId, label, before, document: null };
        setFollowed((all) => [...all.filter((f) => f.jobId !== job.id), item]);
      } else {
        setNotice({ tone: "info", text: `Retrying ${label}. If it fails again it comes back to this list.` });
      }
      await list.reload();
    });

  const askBulk = (cause: Cause) =>
    act(`count:${cause.cause}`, async () => {
      const answer = await api.post<{ matching: number }>(`${API}/retry.json`, { cause: cause.cause, dry_run: true });
      setBulk({ cause, count: answer.matching });
    });

  const retryAll = () =>
    act("bulk", async () => {
      if (!bulk) return;
      const answer = await api.post<{ queued: number; estimated_seconds: number }>(`${API}/retry.json`, { cause: bulk.cause.cause });
      setBulk(null);
      setNotice({
        tone: "success",
        text: `${answer.queued} failed sync${answer.queued === 1 ? " is" : "s are"} being retried (about ${Math.ceil(answer.estimated_seconds)} s).`,
      });
      await list.reload();
    });

  const discard = () =>
    act("discard", async () => {
      if (!discarding) return;
      await api.post(`${API}/failed_jobs/${discarding.id}/discard.json`, { reason: reason.trim() });
      setNotice({ tone: "success", text: `Discarded: ${discarding.object.name ?? discarding.id} will not be synced.` });
      setDiscarding(null);
      setReason("");
      await list.reload();
    });

  const showHistory = async (job: FailedJob) => {
    setHistory({ job, entries: null });
    try {
      const answer = await api.get<{ audit_log: AuditEntry[] }>(`${API}/failed_jobs/audit_log.json${query({ job_id: job.id })}`);
      setHistory({ job, entries: answer.audit_log });
    } catch (error) {
      setHistory({ job, entries: [], error: errorText(error) });
    }
  };

  const jobs = list.data?.failed_jobs ?? [];
  const causes = list.data?.causes ?? [];

  return (
    <Page
      title="Failed syncs"
      subtitle="What could not be synced, why, and how to fix it. Nothing here is lost."
      secondaryActions={[{ content: "Refresh", onAction: () => void list.reload() }]}
    >
      <BlockStack gap="400">
        {notice && (
          <Banner tone={notice.tone} onDismiss={() => setNotice(null)}>
            <p>{notice.text}</p>
          </Banner>
        )}
        {followed.map((item) => (
          <RetryOutcome key={item.jobId} item={item} onDismiss={() => setFollowed((all) => all.filter((f) => f !== item))} />
        ))}
        {list.error && (
          <Banner tone="critical" title="The failed syncs could not be loaded">
            <p>{list.error}</p>
          </Banner>
        )}
        <InlineStack>
          <Select label="Show" labelInline options={STATUSES} value={status} onChange={setStatus} />
        </InlineStack>
        {!list.loading && !list.error && causes.length === 0 && (
          <Card>
            <Text as="p">
              {status === "open" ? "No failed syncs. Every order reached Fortnox or is on its way." : "Nothing here."}
            </Text>
          </Card>
        )}
        {causes.map((cause) => {
          const ofCause = jobs.filter((job) => job.cause.key === cause.cause);
          const explanation = ofCause.find((job) => job.explanation)?.explanation;
          return (
            <Card key={cause.cause}>
              <section aria-labelledby={`cause-${cause.cause}`} data-cause={cause.cause}>
                <BlockStack gap="300">
                  <InlineStack align="space-between" blockAlign="center" gap="200">
                    <Text as="h2" variant="headingMd" id={`cause-${cause.cause}`}>
                      {cause.title}
                    </Text>
                    <Badge tone={status === "open" ? "critical" : undefined}>{`${cause.jobs} ${cause.jobs === 1 ? "sync" : "syncs"}`}</Badge>
                  </InlineStack>
                  {explanation && <Text as="p">{explanation}</Text>}
                  {cause.fix && (
                    <Box background="bg-surface-secondary" padding="300" borderRadius="200">
                      <Text as="p">
                        <strong>How to fix it:</strong> {cause.fix}
                      </Text>
                    </Box>
                  )}
                  {status === "open" && cause.open > 0 && (
                    <InlineStack>
                      <Button variant="primary" onClick={() => askBulk(cause)} loading={busy === `count:${cause.cause}`}>
                        {`Retry all of this cause`}
                      </Button>
                    </InlineStack>
                  )}
                  <Divider />
                  <ul style={{ margin: 0, padding: 0, listStyle: "none" }}>
                    {ofCause.map((job) => (
                      <li key={job.id} data-job={job.id}>
                        <Box paddingBlock="200">
                          <InlineStack align="space-between" blockAlign="center" gap="200">
                            <BlockStack gap="050">
                              <Text as="p" fontWeight="semibold">
                                {job.object.type === "order" ? "Order " : ""}
                                {job.object.name ?? job.object.id ?? job.id}
                              </Text>
                              <Text as="p" tone="subdued" variant="bodySm">
                                {`Failed ${when(job.last_failed_at)}`}
                                {job.failures > 1 ? ` (${job.failures} times)` : ""}
                                {job.fortnox_code ? ` · Fortnox ${job.fortnox_code}: ${job.fortnox_message ?? ""}` : ""}
                                {job.status_reason ? ` · ${job.status_reason}` : ""}
                              </Text>
                            </BlockStack>
                            <ButtonGroup>
                              {(job.status === "open" || job.status === "queued") && (
                                <Button
                                  onClick={() => retry(job)}
                                  loading={busy === `retry:${job.id}`}
                                  accessibilityLabel={`Retry ${job.object.name ?? job.id}`}
                                >
                                  Retry
                                </Button>
                              )}
                              {job.status !== "discarded" && (
                                <Button
                                  tone="critical"
                                  variant="plain"
                                  onClick={() => setDiscarding(job)}
                                  accessibilityLabel={`Discard ${job.object.name ?? job.id}`}
                                >
                                  Discard
                                </Button>
                              )}
                              <Button
                                variant="plain"
                                onClick={() => void showHistory(job)}
                                accessibilityLabel={`History of ${job.object.name ?? job.id}`}
                              >
                                History
                              </Button>
                            </ButtonGroup>
                          </InlineStack>
                        </Box>
                      </li>
                    ))}
                  </ul>
                </BlockStack>
              </section>
            </Card>
          );
        })}
      </BlockStack>
      <Modal
        open={bulk !== null}
        onClose={() => setBulk(null)}
        title={bulk ? `Retry ${bulk.count} failed sync${bulk.count === 1 ? "" : "s"}?` : ""}
        primaryAction={{
          content: bulk ? `Retry ${bulk.count}` : "Retry",
          onAction: () => void retryAll(),
          loading: busy === "bulk",
          disabled: !bulk || bulk.count === 0,
        }}
        secondaryActions={[{ content: "Cancel", onAction: () => setBulk(null) }]}
      >
        <Modal.Section>
          <BlockStack gap="200">
            <Text as="p">{bulk?.cause.title}</Text>
            <Text as="p">
              Every open sync of this cause is sent again, a few per second. Fix the cause first, or they fail again.
            </Text>
          </BlockStack>
        </Modal.Section>
      </Modal>
      <Modal
        open={discarding !== null}
        onClose={() => setDiscarding(null)}
        title={`Discard ${discarding?.object.name ?? "this sync"}?`}
        primaryAction={{
          content: "Discard",
          destructive: true,
          onAction: () => void discard(),
          loading: busy === "discard",
          disabled: !reason.trim(),
        }}
        secondaryActions={[{ content: "Cancel", onAction: () => setDiscarding(null) }]}
      >
        <Modal.Section>
          <BlockStack gap="200">
            <Text as="p">It will not be synced to Fortnox. Book it by hand in Fortnox if it belongs in your books.</Text>
            <TextField
              label="Why discard it?"
              value={reason}
              onChange={setReason}
              autoComplete="off"
              multiline={2}
              requiredIndicator
              helpText="Kept in the history, with your name and the time."
            />
          </BlockStack>
        </Modal.Section>
      </Modal>
      <Modal open={history !== null} onClose={() => setHistory(null)} title={`History of ${history?.job.object.name ?? "the sync"}`}>
        <Modal.Section>
          {history?.error && <Text as="p" tone="critical">{history.error}</Text>}
          {history && !history.entries && <Text as="p">Loading…</Text>}
          {history?.entries && history.entries.length === 0 && !history.error && (
            <Text as="p">Nobody has retried or discarded it yet. It failed {when(history.job.last_failed_at)}.</Text>
          )}
          {history?.entries && history.entries.length > 0 && (
            <List type="bullet">
              {history.entries.map((entry, index) => (
                <List.Item key={entry.id ?? index}>
                  {`${when(entry.at)}: ${describeAction(entry)} by ${entry.actor}`}
                  {entry.reason ? ` (“${entry.reason}”)` : ""}
                </List.Item>
              ))}
            </List>
          )}
        </Modal.Section>
      </Modal>
    </Page>
  );
}

function describeAction(entry: AuditEntry): string {
  if (entry.action === "retry") return "retried";
  if (entry.action === "discard") return "discarded";
  if (entry.action === "bulk_retry") return `retried with ${entry.job_count ?? "other"} syncs of its cause`;
  return entry.action;
}

function RetryOutcome({ item, onDismiss }: { item: Followed; onDismiss(): void }) {
  const document = item.document;
  if (!document || !settled(item)) {
    return (
      <Banner tone="info" onDismiss={onDismiss}>
        <p>{`Order ${item.label}: retrying… If it fails again it comes back to this list.`}</p>
      </Banner>
    );
  }
  const look = statusOf(document.status);
  if (document.status === "synced") {
    return (
      <Banner tone="success" title={`Order ${item.label} is synced`} onDismiss={onDismiss}>
        <p>{`Fortnox ${document.document_kind === "order" ? "order" : "invoice"} ${document.document_number}.`}</p>
      </Banner>
    );
  }
  return (
    <Banner tone="critical" title={`Order ${item.label}: ${look.label}`} onDismiss={onDismiss}>
      <p>{document.last_error?.explanation ?? document.last_error?.message ?? "It failed again: see below."}</p>
    </Banner>
  );
}
