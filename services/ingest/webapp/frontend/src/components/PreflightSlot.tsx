// The pre-flight check of the shop's Fortnox (VAT rates, accounts, modes of payment, currencies,
// scopes, SKUs): its findings on the Get started page.
//
// The API (the writer's, services/fortnox_writer/preflight/routes.py; docs/api.md):
//   GET  /admin/api/integrations/fortnox/preflight.json   (read_integrations)
//   POST /admin/api/integrations/fortnox/preflight.json   (write_integrations): run it now
//   -> {"preflight": {"status": "pending"|"running"|"ok"|"warnings"|"problems",
//        "checked_at": iso|null, "error": string|null,
//        "findings": [{"id", "severity": "error"|"warning"|"info", "title", "explanation",
//                      "fix", "fix_action": {"label", "method", "path", "body"?} | null}]}}
// While a run is in progress ("running") the card asks again every 2 s. Where the endpoint
// answers 404 (an older deployment) the check is not offered and this card shows nothing.
import { Banner, BlockStack, Button, InlineStack, Text } from "@shopify/polaris";
import { useState } from "react";
import { ApiError, errorText } from "../api";
import { useApp } from "../context";
import { when } from "../format";
import { useInterval, useLoad } from "../hooks";
import { Step } from "./Step";

export const PREFLIGHT = "/admin/api/integrations/fortnox/preflight.json";

export interface Finding {
  id: string;
  severity: "error" | "warning" | "info";
  title: string;
  explanation: string;
  fix: string;
  fix_action?: { label: string; method: string; path: string; body?: unknown } | null;
}

export interface PreflightResult {
  status: "pending" | "ok" | "warnings" | "problems" | "running";
  checked_at: string | null;
  error?: string | null;
  findings: Finding[];
}

const TONE = { error: "critical", warning: "warning", info: "info" } as const;

export function Preflight() {
  const { api } = useApp();
  const loaded = useLoad(async () => {
    try {
      return (await api.get<{ preflight: PreflightResult }>(PREFLIGHT)).preflight;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null; // not offered yet
      throw error;
    }
  });
  const [busy, setBusy] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useInterval(() => void loaded.reload(), 2000, loaded.data?.status === "running");
  if (loaded.loading && !loaded.data) return null;
  if (!loaded.data && !loaded.error) return null;
  const result = loaded.data;
  const run = async (label: string, method: string, path: string, body?: unknown) => {
    setBusy(label);
    setFailure(null);
    try {
      await api.call(method, path, body ?? {});
      await loaded.reload();
    } catch (error) {
      setFailure(errorText(error));
    } finally {
      setBusy(null);
    }
  };
  const problems = result?.findings.filter((f) => f.severity !== "info").length ?? 0;
  const state = loaded.error ? "attention" : result?.status === "ok" ? "done" : problems ? "attention" : "todo";
  return (
    <Step
      id="preflight"
      state={state}
      title="Check your Fortnox setup"
      action={
        <Button onClick={() => run("check", "POST", PREFLIGHT)} loading={busy === "check"}>
          {result?.status === "pending" ? "Check now" : "Check again"}
        </Button>
      }
    >
      <BlockStack gap="200">
        {loaded.error && <Text as="p" tone="critical">{loaded.error}</Text>}
        {failure && <Text as="p" tone="critical">{failure}</Text>}
        {result?.error && (
          <Text as="p" tone="critical">
            The last check could not finish: {result.error}
          </Text>
        )}
        {result && (
          <Text as="p" tone="subdued">
            {result.status === "pending"
              ? "Fortbridge has not checked your Fortnox yet. Check it before your first order."
              : result.status === "running"
                ? "Checking your Fortnox…"
                : result.findings.length === 0
                  ? `Everything Fortbridge needs is set up in Fortnox (checked ${when(result.checked_at)}).`
                  : `${result.findings.length} finding${result.findings.length === 1 ? "" : "s"} (checked ${when(result.checked_at)}). They never stop orders from syncing.`}
          </Text>
        )}
        {result?.findings.map((finding) => (
          <Banner key={finding.id} tone={TONE[finding.severity]} title={finding.title}>
            <BlockStack gap="100">
              <p>{finding.explanation}</p>
              <p>
                <strong>How to fix it:</strong> {finding.fix}
              </p>
              {finding.fix_action && (
                <InlineStack>
                  <Button
                    onClick={() => run(finding.id, finding.fix_action!.method, finding.fix_action!.path, finding.fix_action!.body)}
                    loading={busy === finding.id}
                  >
                    {finding.fix_action.label}
                  </Button>
                </InlineStack>
              )}
            </BlockStack>
          </Banner>
        ))}
      </BlockStack>
    </Step>
  );
}
