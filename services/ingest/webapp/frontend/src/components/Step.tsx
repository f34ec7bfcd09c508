// One line of the Get started checklist: its state (icon and words), what it is, what to do.
import { Badge, BlockStack, Box, Icon, InlineStack, Text } from "@shopify/polaris";
import { AlertCircleIcon, CheckCircleIcon, ClockIcon } from "@shopify/polaris-icons";
import type { ReactNode } from "react";

export type StepState = "done" | "todo" | "attention" | "loading";

const LOOK: Record<StepState, { icon: typeof CheckCircleIcon; tone: "success" | "critical" | "subdued"; label: string }> = {
  done: { icon: CheckCircleIcon, tone: "success", label: "Done" },
  todo: { icon: ClockIcon, tone: "subdued", label: "To do" },
  attention: { icon: AlertCircleIcon, tone: "critical", label: "Needs attention" },
  loading: { icon: ClockIcon, tone: "subdued", label: "Checking" },
};

export function Step({
  id,
  state,
  title,
  children,
  action,
}: {
  id: string;
  state: StepState;
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  const look = LOOK[state];
  return (
    <li aria-labelledby={`${id}-title`} data-step={id} data-state={state} style={{ listStyle: "none" }}>
      <Box paddingBlock="300">
        <InlineStack gap="300" wrap={false} blockAlign="start">
          <Box>
            <Icon source={look.icon} tone={look.tone} />
          </Box>
          <Box width="100%">
            <BlockStack gap="200">
              <InlineStack gap="200" blockAlign="center">
                <Text as="h3" variant="headingSm" id={`${id}-title`}>
                  {title}
                </Text>
                <Badge
                  tone={state === "done" ? "success" : state === "attention" ? "critical" : undefined}
                  toneAndProgressLabelOverride="Status:"
                >
                  {look.label}
                </Badge>
              </InlineStack>
              {children}
              {action && <InlineStack gap="200">{action}</InlineStack>}
            </BlockStack>
          </Box>
        </InlineStack>
      </Box>
    </li>
  );
}
