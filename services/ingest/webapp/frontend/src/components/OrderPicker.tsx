// Pick one of the shop's recent orders (previews run against a real order).
import { Select } from "@shopify/polaris";
import { useEffect } from "react";
import { useApp } from "../context";
import { money } from "../format";
import { useLoad } from "../hooks";
import type { OrderDocument } from "../types";

export function OrderPicker({ value, onChange, label = "Order to preview" }: { value: string; onChange(id: string): void; label?: string }) {
  const { api } = useApp();
  const orders = useLoad(() => api.get<{ orders: OrderDocument[] }>("/admin/api/orders/fortnox_invoices.json?limit=50"));
  const list = orders.data?.orders ?? [];
  useEffect(() => {
    if (!value && list.length) onChange(list[0].order_id);
  }, [value, list, onChange]);
  const options = list.map((order) => ({
    label: `${order.order_name ?? order.order_id} (${money(order.order_total, order.currency)})`,
    value: order.order_id,
  }));
  return (
    <Select
      label={label}
      options={options.length ? options : [{ label: orders.loading ? "Loading orders…" : "No orders yet", value: "" }]}
      value={value}
      onChange={onChange}
      disabled={!options.length}
      helpText={orders.error ?? "One of your shop's recent orders."}
    />
  );
}
