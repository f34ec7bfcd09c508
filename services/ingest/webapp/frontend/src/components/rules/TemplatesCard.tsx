// The rule editor's Fortnox fields card: for the document, the customer and each product row, the
// Fortnox fields filled from the order, each with its template (plain text; rows added and removed).
import { BlockStack, Button, Card, InlineGrid, InlineStack, Text, TextField } from "@shopify/polaris";
import { TEMPLATES, type FormCardProps } from "./ruleForm";

export function TemplatesCard({ form, update, error }: FormCardProps) {
  return (
    <Card>
      <BlockStack gap="400">
        <BlockStack gap="100">
          <Text as="h2" variant="headingMd">
            Fortnox fields from the order
          </Text>
          <Text as="p" tone="subdued">
            Each template is text with placeholders for the order's values, written as Fortbridge's
            documentation on rules describes. They are checked when you preview or save.
          </Text>
        </BlockStack>
        {TEMPLATES.map((group) => (
          <fieldset key={group.name} style={{ border: 0, padding: 0, margin: 0 }}>
            <legend>
              <Text as="span" variant="headingSm">
                {group.title}
              </Text>
            </legend>
            <BlockStack gap="200">
              <Text as="p" tone="subdued" variant="bodySm">
                {group.help}
              </Text>
              {form.templates[group.name].map(([field, template], index) => (
                <InlineGrid key={index} columns={{ xs: 1, md: ["oneThird", "twoThirds"] }} gap="200" alignItems="start">
                  <TextField
                    label="Fortnox field"
                    value={field}
                    placeholder={group.example}
                    onChange={(v) =>
                      update({
                        templates: { ...form.templates, [group.name]: form.templates[group.name].map((p, i) => (i === index ? [v, p[1]] : p)) },
                      })
                    }
                    autoComplete="off"
                  />
                  <TextField
                    label={`Template for ${field || "this field"}`}
                    value={template}
                    onChange={(v) =>
                      update({
                        templates: { ...form.templates, [group.name]: form.templates[group.name].map((p, i) => (i === index ? [p[0], v] : p)) },
                      })
                    }
                    autoComplete="off"
                    monospaced
                    error={error(`actions.${group.name}.${field}`) ?? error(`actions.${group.name}`)}
                    connectedRight={
                      <Button
                        onClick={() =>
                          update({ templates: { ...form.templates, [group.name]: form.templates[group.name].filter((_, i) => i !== index) } })
                        }
                        accessibilityLabel={`Remove the template for ${field || "this field"}`}
                      >
                        Remove
                      </Button>
                    }
                  />
                </InlineGrid>
              ))}
              <InlineStack>
                <Button onClick={() => update({ templates: { ...form.templates, [group.name]: [...form.templates[group.name], ["", ""]] } })}>
                  {`Add ${group.title.toLowerCase().replace(/s$/, "")}`}
                </Button>
              </InlineStack>
            </BlockStack>
          </fieldset>
        ))}
      </BlockStack>
    </Card>
  );
}
