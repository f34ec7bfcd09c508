// The Settings page's preview: pick a real order, see what the unsaved changes would make of it
// (what changes, and the document with the changes), and which version of the settings is saved.
import { Banner, BlockStack, Button, Card, InlineStack, Text } from "@shopify/polaris";
import { when } from "../../format";
import type { SettingsAnswer, SettingsPreview } from "../../types";
import { OrderPicker } from "../OrderPicker";
import { PreviewDocument, changeLabel, changeValue } from "../PreviewDocument";

interface Props {
  answer: SettingsAnswer;
  dirty: boolean;
  orderId: string;
  setOrderId: (orderId: string) => void;
  runPreview: () => Promise<void>;
  previewing: boolean;
  preview: SettingsPreview | null;
}

export function SettingsPreviewCard({ answer, dirty, orderId, setOrderId, runPreview, previewing, preview }: Props) {
  return (
    <Card>
      <BlockStack gap="300">
        <Text as="h2" variant="headingMd">
          Preview on an order
        </Text>
        <Text as="p" tone="subdued">
          {dirty
            ? "See what your unsaved changes would make of a real order. Nothing is saved or sent."
            : "Change a setting, then see what it would make of a real order."}
        </Text>
        <OrderPicker value={orderId} onChange={setOrderId} />
        <InlineStack>
          <Button onClick={() => void runPreview()} loading={previewing} disabled={!orderId}>
            Preview
          </Button>
        </InlineStack>
        {preview && <SettingsPreviewView preview={preview} />}
        <Text as="p" tone="subdued" variant="bodySm">
          {answer.version > 0
            ? `Version ${answer.version}, saved ${when(answer.updated_at)}${answer.updated_by ? ` by ${answer.updated_by}` : ""}.`
            : "Fortbridge's defaults: never changed."}
        </Text>
      </BlockStack>
    </Card>
  );
}

// The document's own kind repeats the first line ("Fortnox document: invoice → order").
function shownChanges(preview: SettingsPreview): SettingsPreview["changes"] {
  const kindChanged = preview.changes.some((change) => change.path === "document_kind");
  return preview.changes.filter((change) => !(kindChanged && /^documents\[\d+\]\.document\.kind$/.test(change.path)));
}

function SettingsPreviewView({ preview }: { preview: SettingsPreview }) {
  return (
    <BlockStack gap="300">
      <section aria-label="What changes">
        {shownChanges(preview).length === 0 ? (
          <Banner tone="info">
            <p>This order would come out the same as with the saved settings.</p>
          </Banner>
        ) : (
          <BlockStack gap="100">
            <Text as="h3" variant="headingSm">
              What changes
            </Text>
            <ul style={{ margin: 0, paddingInlineStart: "1.25rem" }}>
              {shownChanges(preview).map((change) => (
                <li key={change.path} data-change={change.path}>
                  <Text as="span">{`${changeLabel(change.path)}: ${changeValue(change.saved)} → ${changeValue(change.draft)}`}</Text>
                </li>
              ))}
            </ul>
          </BlockStack>
        )}
      </section>
      <PreviewDocument preview={preview.draft} heading="With your changes" />
    </BlockStack>
  );
}
