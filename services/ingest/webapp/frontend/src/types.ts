// The admin API's answers the pages read (libs/common/openapi/admin_api.yaml).

export type DocumentStatus = "pending" | "synced" | "failed" | "needs_reconnection" | "skipped" | "waiting_on_billing";

export interface OrderDocument {
  order_id: string;
  order_name: string | null;
  status: DocumentStatus;
  document_kind: string | null;
  document_number: string | null;
  fortnox_total: string | null;
  order_total: string | null;
  currency: string | null;
  last_error: { code: string | null; message: string | null; explanation: string | null } | null;
  rule_version: number | null;
  trace_id: string | null;
  updated_at: string;
}

export interface Installation {
  shop: string;
  status: "installed" | "uninstalled" | "not_installed";
  meaning: string;
  scopes?: string[];
  missing_scopes?: string[];
  installed_at?: string;
  what_to_do?: string;
}

export interface Connection {
  shop: string;
  status: "connected" | "needs_reconnection" | "not_connected" | string;
  meaning: string;
  tenant_id?: string;
  company_name?: string | null;
  reason?: string | null;
  what_to_do?: string;
  parked_commands?: number;
  waiting_commands?: number;
  held_commands?: number; // made for the previous company before a switch: release or discard
  switched_from_tenant_id?: string | null;
}

export interface Accounts {
  sweden: Record<string, number>;
  eu_vat: number;
  eu_vat_free: number;
  export: number;
  shipping: number | null;
  tips: number;
  duties: number;
  rounding: number;
  gift_card_liability: number;
}

// How Shopify Payments payouts are booked: one Fortnox voucher per payout (docs/accounting.md).
export interface PayoutSettings {
  enabled: boolean;
  voucher_series: string;
  clearing_account: number;
  fee_account: number;
  bank_account: number;
  adjustment_account: number;
  reserve_account: number;
}

export interface ShopSettings {
  inventory_source: "shopify" | "fortnox" | "none";
  inventory_locations: Record<string, string>;
  document_kind: "invoice" | "order" | "none";
  trigger: "create" | "paid" | "fulfilled";
  bookkeep_invoices: boolean;
  bookkeep_payments: boolean;
  send_email: boolean;
  accounts: Accounts;
  payment_modes: Record<string, string>;
  default_payment_mode: string;
  gift_card_payment_mode: string;
  customer_match: "email" | "organisation_number";
  guest_customer_name: string;
  article_number_source: "sku" | "barcode" | "variant_id" | "metafield";
  article_metafield: string | null;
  sku_policy: "variant_id" | "no_article" | "fail";
  document_currency: "presentment" | "shop";
  currency_rate: "explicit" | "fortnox";
  shipping_as: "row" | "freight";
  payouts: PayoutSettings;
}

// A feature's Shopify scopes: granted, or what to do and the re-authorisation link.
export interface ShopifyAccess {
  feature: string;
  scopes: string[];
  missing_scopes: string[];
  granted: boolean;
  what_to_do?: string;
  reauthorize_url?: string;
}

export interface InventoryAnswer {
  inventory: {
    shopify_access: ShopifyAccess;
    source: "shopify" | "fortnox" | "none";
    last_sync_at: string | null;
    counts: { to_fortnox: number; to_shopify: number; echoes_ignored: number; compare_retries: number; discrepancies: number };
    warehouse_module: boolean | null;
    last_error: string | null;
    discrepancies: { key: string; sku: string | null; reason: string }[];
  };
}

export interface SettingsAnswer {
  settings: ShopSettings;
  defaults: ShopSettings;
  version: number;
  updated_at: string | null;
  updated_by: string | null;
  shopify_access: ShopifyAccess[];
}

export interface PreviewRow {
  article_number: string | null;
  description: string;
  quantity: string;
  price: string;
  vat: string;
  discount: string;
  account_number: number | null;
}

export interface PreviewCommand {
  action: string;
  customer?: { match_key: string; match_value: string | null; fields: Record<string, string> } | null;
  document?: {
    kind: string;
    currency: string;
    rows: PreviewRow[];
    fields: Record<string, string>;
    bookkeep: boolean;
    send_email: boolean;
  } | null;
  expected_total?: string | null;
}

export interface Preview {
  rule_set_version: number;
  matched_rule: { id: number | null; name: string; draft: boolean } | null;
  document_kind: string;
  trigger: string;
  bookkeep: boolean;
  send_email: boolean;
  documents: PreviewCommand[];
  skipped: string | null;
  error: { code: string | null; message: string } | null;
  payment_modes?: Record<string, string>;
}

export interface SettingsPreview {
  saved: Preview;
  draft: Preview;
  changes: { path: string; saved: unknown; draft: unknown }[];
  version: number;
}

export interface FailedJob {
  id: string;
  status: string;
  status_reason: string | null;
  object: { type: string | null; id: string | null; name: string | null };
  cause: { key: string; title: string };
  error_code: string | null;
  fortnox_code: string | null;
  fortnox_message: string | null;
  explanation: string | null;
  fix: string | null;
  failures: number;
  retries: number;
  last_failed_at: string;
}

export interface Cause {
  cause: string;
  title: string;
  summary: string;
  fix: string | null;
  jobs: number;
  open: number;
  retrying: number;
  discarded: number;
  last_failed_at: string;
}

export interface AuditEntry {
  id?: number;
  at: string;
  actor: string;
  action: string;
  reason?: string | null;
  job_id?: string | null;
  job_count?: number | null;
}

export interface Condition {
  field?: string;
  op?: string;
  value?: unknown;
  all?: Condition[];
  any?: Condition[];
  not?: Condition;
}

export interface RuleActions {
  document_kind?: string;
  trigger?: string;
  bookkeep?: boolean;
  send_email?: boolean;
  terms_of_payment?: string;
  our_reference?: string;
  cost_center?: string;
  project?: string;
  price_list?: string;
  language?: string;
  customer_match?: string;
  fields?: Record<string, string>;
  customer_fields?: Record<string, string>;
  row_fields?: Record<string, string>;
  [key: string]: unknown;
}

export interface MappingRule {
  id: number;
  position: number;
  name: string;
  enabled: boolean;
  conditions: Condition | null;
  actions: RuleActions;
}

export interface CatalogSync {
  id: string;
  kind: "products" | "customers";
  status: "running" | "finished" | "failed";
  total: number;
  done: number;
  failed: number;
  skipped: number;
  pending: number;
  paged_all: boolean;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  failures?: { id: string; status: string; error: string | null }[];
}

export interface Backfill {
  id: string;
  dry_run: boolean;
  status: "running" | "finished" | "failed";
  total: number;
  done: number;
  counts: Record<string, number>;
  paged_all: boolean;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  failures?: { order_id: string; status: string; error: string | null }[];
}

export interface ReportDifference {
  order_id: string | null;
  order_name: string | null;
  kind: string;
  what: string;
  shopify: string | null;
  fortnox: string | null;
  difference?: string;
  document: string | null;
}

export interface ReconciliationReport {
  id: string;
  status: "running" | "finished" | "failed";
  stage: string | null;
  period: { from: string; to: string };
  error: string | null;
  started_at: string;
  finished_at: string | null;
  differences: number | null;
  report?: {
    totals: {
      shopify: { orders: number; total: string; vat: string; refunded: string; paid: string };
      fortnox: { invoices: number; credits: number; total: string; vat: string; credited: string; paid: string };
    };
    by_vat_rate: { rate: string; shopify_orders_vat: string; fortnox_invoices_vat: string; shopify_refunds_vat: string; fortnox_credits_vat: string }[];
    differences: ReportDifference[];
  };
}

// GET /admin/api/billing/usage.json (docs/billing.md)
export interface BillingUsage {
  shop: string;
  enabled: boolean;
  plan: { name: string; terms: string; price: string; currency: string; test: boolean };
  trial: { credits: number; used: number; left: number };
  subscription: {
    id: string | null;
    status: string;
    confirmation_url: string | null;
    capped_amount: string | null;
    amount_used: string | null;
    currency: string;
    cycle_started_at: string | null;
    approaching_cap_at: string | null;
  };
  syncs_billed_this_cycle: number;
  syncs_billed_total: number;
  usage_records: { recorded: number; pending: number };
  waiting: {
    count: number;
    oldest_at: string | null;
    state: string | null;
    reason: string | null;
    commands: { order_id: string | null; order_name: string | null; action: string; document_key: string; waiting_since: string }[];
  };
}
