// The rule editor's Which orders card: every order, or the orders matching all or any of the
// condition rows (field, test, value; added and removed), or nested conditions edited as JSON;
// the API's messages about the conditions are listed under it.
import { BlockStack, Button, Card, ChoiceList, InlineGrid, InlineStack, Select, Text, TextField } from "@shopify/polaris";
import { FIELDS, OPERATORS, isMany, kindOf, type FlatConditions, type Row } from "../../rules";
import { ruleOf, type FormCardProps } from "./ruleForm";

interface Props extends FormCardProps {
  conditionErrors: [string, string][];
}

export function ConditionsCard({ form, update, error, conditionErrors }: Props) {
  const flat = form.conditions;
  const setRows = (rows: Row[]) => flat && update({ conditions: { ...flat, rows } });
  return (
    <Card>
      <BlockStack gap="300">
        <Text as="h2" variant="headingMd">
          Which orders
        </Text>
        {flat ? (
          <>
            <ChoiceList
              title="The rule applies to"
              choices={[
                { label: "Every order", value: "every" },
                { label: "Orders that match all of these", value: "all" },
                { label: "Orders that match any of these", value: "any" },
              ]}
              selected={[flat.join]}
              onChange={([join]) =>
                update({
                  conditions: {
                    join: join as FlatConditions["join"],
                    rows: join !== "every" && flat.rows.length === 0 ? [{ field: "tags", op: "contains", value: "" }] : flat.rows,
                  },
                })
              }
            />
            {flat.join !== "every" &&
              flat.rows.map((row, index) => (
                <fieldset key={index} style={{ border: 0, padding: 0, margin: 0 }}>
                  <legend>
                    <Text as="span" visuallyHidden>{`Condition ${index + 1}`}</Text>
                  </legend>
                  <InlineGrid columns={{ xs: 1, md: ["oneThird", "oneThird", "oneThird"] }} gap="200" alignItems="end">
                    <Select
                      label={`Condition ${index + 1}: field`}
                      options={FIELDS.map(({ value, label }) => ({ value, label }))}
                      value={row.field}
                      onChange={(field) =>
                        setRows(flat.rows.map((r, i) => (i === index ? { ...r, field, op: OPERATORS[kindOf(field)][0].value } : r)))
                      }
                    />
                    <Select
                      label="Test"
                      options={OPERATORS[kindOf(row.field)]}
                      value={row.op}
                      onChange={(op) => setRows(flat.rows.map((r, i) => (i === index ? { ...r, op } : r)))}
                    />
                    <TextField
                      label={isMany(row.field, row.op) ? "Values (comma separated)" : "Value"}
                      value={row.value}
                      onChange={(value) => setRows(flat.rows.map((r, i) => (i === index ? { ...r, value } : r)))}
                      autoComplete="off"
                      error={error(`conditions.${flat.join}[${index}].value`) ?? error(`conditions.${flat.join}[${index}]`)}
                      connectedRight={
                        <Button
                          onClick={() => setRows(flat.rows.filter((_, i) => i !== index))}
                          accessibilityLabel={`Remove condition ${index + 1}`}
                        >
                          Remove
                        </Button>
                      }
                    />
                  </InlineGrid>
                </fieldset>
              ))}
            {flat.join !== "every" && (
              <InlineStack gap="200">
                <Button onClick={() => setRows([...flat.rows, { field: "tags", op: "contains", value: "" }])}>Add condition</Button>
                <Button
                  variant="plain"
                  onClick={() => {
                    const { rule } = ruleOf(form);
                    update({ conditions: null, conditionsJson: JSON.stringify(rule.conditions, null, 2) });
                  }}
                >
                  Edit as JSON (nested conditions)
                </Button>
              </InlineStack>
            )}
          </>
        ) : (
          <TextField
            label="Conditions (JSON)"
            value={form.conditionsJson}
            onChange={(v) => update({ conditionsJson: v })}
            multiline={6}
            autoComplete="off"
            monospaced
            helpText={`{"all": [...]}, {"any": [...]}, {"not": {...}} or {"field", "op", "value"}, as Fortbridge's documentation on rules describes.`}
          />
        )}
        {conditionErrors.map(([path, message]) => (
          <Text as="p" tone="critical" key={path}>
            {`${path}: ${message}`}
          </Text>
        ))}
      </BlockStack>
    </Card>
  );
}
