// The Settings page's form (the draft): text for every number, converted from the saved settings
// and back. The API gets numbers (or the text, which it refuses by field), and a save sends only
// what differs from the saved settings.
import type { ShopSettings } from "../../types";
import { payoutsDraft, payoutsValue, type PayoutsDraft } from "../PayoutsCard";

export const ACCOUNT_FIELDS = [
  ["eu_vat", "EU consumers charged VAT (OSS)"],
  ["eu_vat_free", "EU businesses without VAT (reverse charge)"],
  ["export", "Sales outside the EU"],
  ["shipping", "Shipping (empty: the goods' account)"],
  ["gift_card_liability", "Gift cards sold (a debt)"],
  ["tips", "Tips"],
  ["duties", "Import duties"],
  ["rounding", "Rounding (öresavrundning)"],
] as const;

// The form holds text for every number; the API gets numbers (or the text, which it refuses by field).
export interface Draft {
  inventory_source: string;
  document_kind: string;
  trigger: string;
  bookkeep_invoices: boolean;
  bookkeep_payments: boolean;
  send_email: boolean;
  sweden: [string, string][];
  accounts: Record<string, string>;
  payment_modes: [string, string][];
  default_payment_mode: string;
  gift_card_payment_mode: string;
  customer_match: string;
  guest_customer_name: string;
  article_number_source: string;
  article_metafield: string;
  sku_policy: string;
  document_currency: string;
  currency_rate: string;
  shipping_as: string;
  payouts: PayoutsDraft;
}

// What every card of the form gets: the draft, a setter of one of its fields, and the message the
// API gave for a field (by its path under settings.).
export interface DraftCardProps {
  draft: Draft;
  set: <K extends keyof Draft>(name: K, value: Draft[K]) => void;
  error: (path: string) => string | undefined;
}

export function toDraft(s: ShopSettings): Draft {
  const accounts: Record<string, string> = {};
  for (const [name] of ACCOUNT_FIELDS) {
    const value = s.accounts[name];
    accounts[name] = value === null ? "" : String(value);
  }
  return {
    inventory_source: s.inventory_source,
    document_kind: s.document_kind,
    trigger: s.trigger,
    bookkeep_invoices: s.bookkeep_invoices,
    bookkeep_payments: s.bookkeep_payments,
    send_email: s.send_email,
    sweden: Object.entries(s.accounts.sweden).map(([rate, account]) => [rate, String(account)]),
    accounts,
    payment_modes: Object.entries(s.payment_modes),
    default_payment_mode: s.default_payment_mode,
    gift_card_payment_mode: s.gift_card_payment_mode,
    customer_match: s.customer_match,
    guest_customer_name: s.guest_customer_name,
    article_number_source: s.article_number_source,
    article_metafield: s.article_metafield ?? "",
    sku_policy: s.sku_policy,
    document_currency: s.document_currency,
    currency_rate: s.currency_rate,
    shipping_as: s.shipping_as,
    payouts: payoutsDraft(s.payouts),
  };
}

function number(text: string): number | string {
  return /^\s*\d+\s*$/.test(text) ? Number(text) : text;
}

function fromDraft(d: Draft): Record<string, unknown> {
  const accounts: Record<string, unknown> = { sweden: Object.fromEntries(d.sweden.map(([rate, account]) => [rate.trim(), number(account)])) };
  for (const [name] of ACCOUNT_FIELDS) {
    const text = d.accounts[name].trim();
    accounts[name] = name === "shipping" && !text ? null : number(text);
  }
  return {
    inventory_source: d.inventory_source,
    document_kind: d.document_kind,
    trigger: d.trigger,
    bookkeep_invoices: d.bookkeep_invoices,
    bookkeep_payments: d.bookkeep_payments,
    send_email: d.send_email,
    accounts,
    payment_modes: Object.fromEntries(d.payment_modes.map(([gateway, code]) => [gateway.trim(), code.trim()])),
    default_payment_mode: d.default_payment_mode.trim(),
    gift_card_payment_mode: d.gift_card_payment_mode.trim(),
    customer_match: d.customer_match,
    guest_customer_name: d.guest_customer_name,
    article_number_source: d.article_number_source,
    article_metafield: d.article_metafield.trim() || null,
    sku_policy: d.sku_policy,
    document_currency: d.document_currency,
    currency_rate: d.currency_rate,
    shipping_as: d.shipping_as,
    payouts: payoutsValue(d.payouts, number),
  };
}

// Only what differs from the saved settings (accounts and payouts field by field), so a save says
// what changed.
export function patchOf(saved: ShopSettings, draft: Draft): Record<string, unknown> {
  const wanted = fromDraft(draft);
  const before = saved as unknown as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(wanted)) {
    if (name === "accounts" || name === "payouts") {
      const group: Record<string, unknown> = {};
      const was = before[name] as Record<string, unknown>;
      for (const [field, item] of Object.entries(value as Record<string, unknown>)) {
        if (JSON.stringify(item) !== JSON.stringify(was[field])) group[field] = item;
      }
      if (Object.keys(group).length) patch[name] = group;
    } else if (JSON.stringify(value) !== JSON.stringify(before[name])) {
      patch[name] = value;
    }
  }
  return patch;
}
