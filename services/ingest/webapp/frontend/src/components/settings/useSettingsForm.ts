// The Settings page's state: the saved settings (with their version) and the draft being edited,
// the API's messages by field, the notice above the form, and the preview on an order. save()
// sends only what changed, with the version read: someone else's change in between is refused
// (a warning, with reloadCurrent() to load theirs); a refused field shows its own message.
import { useEffect, useMemo, useState } from "react";
import { ApiError, errorText } from "../../api";
import { useApp } from "../../context";
import { fieldsNeed } from "../../format";
import { useFieldErrors, useLoad } from "../../hooks";
import type { SettingsAnswer, SettingsPreview } from "../../types";
import { patchOf, toDraft, type Draft, type DraftCardProps } from "./draft";

const SETTINGS = "/admin/api/integrations/fortnox/settings.json";
const PREVIEW = "/admin/api/integrations/fortnox/settings/preview.json";

export interface Notice {
  tone: "success" | "critical" | "warning";
  title: string;
  text: string;
}

export function useSettingsForm() {
  const { api } = useApp();
  const loaded = useLoad(() => api.get<SettingsAnswer>(SETTINGS));
  const [answer, setAnswer] = useState<SettingsAnswer | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const fields = useFieldErrors("settings.");
  const [notice, setNotice] = useState<Notice | null>(null);
  const [saving, setSaving] = useState(false);
  const [orderId, setOrderId] = useState("");
  const [preview, setPreview] = useState<SettingsPreview | null>(null);
  const [previewing, setPreviewing] = useState(false);

  useEffect(() => {
    if (loaded.data) {
      setAnswer(loaded.data);
      setDraft(toDraft(loaded.data.settings));
    }
  }, [loaded.data]);

  const patch = useMemo(() => (answer && draft ? patchOf(answer.settings, draft) : {}), [answer, draft]);
  const dirty = Object.keys(patch).length > 0;

  const set: DraftCardProps["set"] = (name, value) => {
    if (draft) setDraft({ ...draft, [name]: value });
  };
  const discard = () => {
    if (answer) setDraft(toDraft(answer.settings));
  };
  const showProblems = (caught: unknown, title: string) => {
    const count = fields.take(caught);
    if (count) {
      setNotice({ tone: "critical", title, text: `${fieldsNeed(count)} fixing: see the messages below.` });
    } else if (caught instanceof ApiError && caught.status === 409 && "version" in caught.body) {
      setNotice({ tone: "warning", title: "Someone else changed the settings", text: caught.message });
    } else {
      setNotice({ tone: "critical", title, text: errorText(caught) });
    }
  };

  const save = async () => {
    if (!answer) return;
    setSaving(true);
    setNotice(null);
    fields.clear();
    try {
      const saved = await api.put<SettingsAnswer>(SETTINGS, { settings: patch, version: answer.version });
      setAnswer(saved);
      setDraft(toDraft(saved.settings));
      setPreview(null);
      setNotice({ tone: "success", title: "Settings saved", text: "The next orders follow them. Documents already made stay as they are." });
    } catch (caught) {
      showProblems(caught, "The settings were not saved");
    } finally {
      setSaving(false);
    }
  };

  const runPreview = async () => {
    setPreviewing(true);
    fields.clear();
    setNotice(null);
    try {
      setPreview(await api.post<SettingsPreview>(PREVIEW, { settings: patch, order_id: orderId }));
    } catch (caught) {
      setPreview(null);
      showProblems(caught, "The preview could not be made");
    } finally {
      setPreviewing(false);
    }
  };

  const reloadCurrent = async () => {
    setNotice(null);
    fields.clear();
    await loaded.reload();
  };

  return {
    loadError: loaded.error,
    answer,
    draft,
    dirty,
    set,
    error: fields.error,
    discard,
    notice,
    setNotice,
    reloadCurrent,
    saving,
    save,
    orderId,
    setOrderId,
    preview,
    previewing,
    runPreview,
  };
}
