// The rule editor's state: the rule loaded (none for a new one) and its form, the API's messages
// by field, the failure shown above the form, and the preview on an order. save() creates or
// updates the rule and goes back to the rules; conditions that are not valid JSON are refused here.
import { useEffect, useState } from "react";
import { errorText } from "../../api";
import { useApp } from "../../context";
import { fieldsNeed } from "../../format";
import { useFieldErrors, useLoad } from "../../hooks";
import { useRoute } from "../../router";
import type { MappingRule, Preview } from "../../types";
import { formOf, ruleOf, type Form } from "./ruleForm";

const RULES = "/admin/api/integrations/fortnox/mapping_rules";

export function useRuleForm(ruleId: number | null) {
  const { api } = useApp();
  const { navigate } = useRoute();
  const loaded = useLoad(
    async () => (ruleId === null ? null : (await api.get<{ mapping_rule: MappingRule }>(`${RULES}/${ruleId}.json`)).mapping_rule),
    [ruleId],
  );
  const [form, setForm] = useState<Form | null>(ruleId === null ? formOf(null) : null);
  const fields = useFieldErrors("mapping_rule.");
  const [failure, setFailure] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [orderId, setOrderId] = useState("");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewing, setPreviewing] = useState(false);

  useEffect(() => {
    if (loaded.data) setForm(formOf(loaded.data));
  }, [loaded.data]);

  const update = (patch: Partial<Form>) => {
    if (form) setForm({ ...form, ...patch });
  };
  const conditionErrors = Object.entries(fields.errors).filter(([path]) => path.startsWith("conditions"));

  const problems = (caught: unknown, what: string) => {
    const count = fields.take(caught);
    if (count) {
      setFailure(`${what}: ${fieldsNeed(count)} fixing (see below).`);
    } else {
      setFailure(`${what}: ${errorText(caught)}`);
    }
  };

  const body = (form: Form) => {
    const { rule, jsonError } = ruleOf(form);
    if (jsonError) {
      fields.set({ conditions: jsonError });
      throw new Error(jsonError);
    }
    return rule;
  };

  const runPreview = async () => {
    if (!form) return;
    setPreviewing(true);
    fields.clear();
    setFailure(null);
    try {
      const request: Record<string, unknown> = { order_id: orderId, mapping_rule: body(form) };
      if (ruleId !== null) request.rule_id = ruleId;
      else if (form.position === "first") request.position = 1;
      else request.position = 1_000_000; // last, as a new rule is saved
      setPreview(await api.post<Preview>(`${RULES}/preview.json`, request));
    } catch (caught) {
      setPreview(null);
      problems(caught, "The preview could not be made");
    } finally {
      setPreviewing(false);
    }
  };

  const save = async () => {
    if (!form) return;
    setSaving(true);
    fields.clear();
    setFailure(null);
    try {
      const mapping_rule = body(form);
      if (ruleId === null) {
        await api.post(`${RULES}.json`, { mapping_rule, ...(form.position === "first" ? { position: 1 } : {}) });
      } else {
        await api.put(`${RULES}/${ruleId}.json`, { mapping_rule });
      }
      navigate("/rules");
    } catch (caught) {
      problems(caught, "The rule was not saved");
    } finally {
      setSaving(false);
    }
  };

  return {
    loaded,
    form,
    update,
    error: fields.error,
    conditionErrors,
    failure,
    setFailure,
    saving,
    save,
    orderId,
    setOrderId,
    preview,
    previewing,
    runPreview,
  };
}
