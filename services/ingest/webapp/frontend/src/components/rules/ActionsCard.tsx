// The rule editor's What changes card: each action the form edits (a choice, a yes/no flag or a
// Fortnox code, any left "As in the settings"), and the rule's other actions, kept as they are.
import { BlockStack, Card, FormLayout, InlineGrid, Select, Text, TextField } from "@shopify/polaris";
import { CHOICES, CODES, EDITED, FLAGS, type FormCardProps } from "./ruleForm";

export function ActionsCard({ form, update, error }: FormCardProps) {
  const setAction = (name: string, value: unknown) => update({ actions: { ...form.actions, [name]: value } });
  const otherActions = Object.keys(form.actions).filter((name) => !EDITED.has(name));
  return (
    <Card>
      <BlockStack gap="300">
        <Text as="h2" variant="headingMd">
          What changes for those orders
        </Text>
        <Text as="p" tone="subdued">
          Anything left at "As in the settings" keeps the shop's setting.
        </Text>
        <FormLayout>
          <InlineGrid columns={{ xs: 1, md: 2 }} gap="300">
            {CHOICES.map((choice) => (
              <Select
                key={choice.name}
                label={choice.label}
                options={[{ label: "As in the settings", value: "" }, ...choice.options]}
                value={String(form.actions[choice.name] ?? "")}
                onChange={(v) => setAction(choice.name, v || undefined)}
                error={error(`actions.${choice.name}`)}
              />
            ))}
            {FLAGS.map((flag) => (
              <Select
                key={flag.name}
                label={flag.label}
                options={[
                  { label: "As in the settings", value: "" },
                  { label: flag.yes, value: "yes" },
                  { label: flag.no, value: "no" },
                ]}
                value={form.actions[flag.name] === undefined ? "" : form.actions[flag.name] ? "yes" : "no"}
                onChange={(v) => setAction(flag.name, v === "" ? undefined : v === "yes")}
                error={error(`actions.${flag.name}`)}
              />
            ))}
            {CODES.map((code) => (
              <TextField
                key={code.name}
                label={code.label}
                value={String(form.actions[code.name] ?? "")}
                onChange={(v) => setAction(code.name, v || undefined)}
                autoComplete="off"
                error={error(`actions.${code.name}`)}
              />
            ))}
          </InlineGrid>
        </FormLayout>
        {otherActions.length > 0 && (
          <Text as="p" tone="subdued">
            {`Also kept as they are: ${otherActions.map((name) => `${name} = ${JSON.stringify(form.actions[name])}`).join("; ")}.`}
          </Text>
        )}
      </BlockStack>
    </Card>
  );
}
