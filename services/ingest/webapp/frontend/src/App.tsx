// The app's frame: navigation (Shopify admin's sidebar when embedded, Polaris' own outside)
// and the page for the current path.
import { Frame, Navigation, TopBar } from "@shopify/polaris";
import { AlertDiamondIcon, CatalogIcon, CreditCardIcon, HomeIcon, ListBulletedIcon, OrderIcon, ReceiptIcon, SettingsIcon } from "@shopify/polaris-icons";
import { useState } from "react";
import { useApp } from "./context";
import { Accounting } from "./pages/Accounting";
import { Billing } from "./pages/Billing";
import { Catalog } from "./pages/Catalog";
import { FailedSyncs } from "./pages/FailedSyncs";
import { GetStarted } from "./pages/GetStarted";
import { NotFound } from "./pages/NotFound";
import { Orders } from "./pages/Orders";
import { RuleEditor } from "./pages/RuleEditor";
import { Rules } from "./pages/Rules";
import { Settings } from "./pages/Settings";
import { href, useRoute } from "./router";

const PAGES = [
  { path: "/", label: "Get started", icon: HomeIcon },
  { path: "/orders", label: "Orders", icon: OrderIcon },
  { path: "/failed", label: "Failed syncs", icon: AlertDiamondIcon },
  { path: "/settings", label: "Settings", icon: SettingsIcon },
  { path: "/rules", label: "Rules", icon: ListBulletedIcon },
  { path: "/catalog", label: "Catalog", icon: CatalogIcon },
  { path: "/accounting", label: "Accounting", icon: ReceiptIcon },
  { path: "/billing", label: "Billing", icon: CreditCardIcon },
];

function page(path: string) {
  if (path === "/" || path === "") return <GetStarted />;
  if (path === "/orders") return <Orders />;
  if (path === "/failed") return <FailedSyncs />;
  if (path === "/settings") return <Settings />;
  if (path === "/rules") return <Rules />;
  if (path === "/rules/new") return <RuleEditor ruleId={null} />;
  const rule = /^\/rules\/(\d+)$/.exec(path);
  if (rule) return <RuleEditor ruleId={Number(rule[1])} />;
  if (path === "/catalog") return <Catalog />;
  if (path === "/accounting") return <Accounting />;
  if (path === "/billing") return <Billing />;
  return <NotFound />;
}

function selected(path: string, item: string): boolean {
  return item === "/" ? path === "/" : path === item || path.startsWith(`${item}/`);
}

export function App({ onSignOut }: { onSignOut(): void }) {
  const { session } = useApp();
  const { path } = useRoute();
  const [menuOpen, setMenuOpen] = useState(false);
  const [navOpen, setNavOpen] = useState(false);
  if (session.embedded) {
    return (
      <>
        <ui-nav-menu>
          {PAGES.map((item) => (
            <a key={item.path} href={href(item.path)} rel={item.path === "/" ? "home" : undefined}>
              {item.label}
            </a>
          ))}
        </ui-nav-menu>
        <main id="main">{page(path)}</main>
      </>
    );
  }
  const navigation = (
    <Navigation location={path} ariaLabelledBy="fortbridge-navigation-title">
      <span id="fortbridge-navigation-title" hidden>
        Fortbridge
      </span>
      <Navigation.Section
        items={PAGES.map((item) => ({
          url: item.path,
          label: item.label,
          icon: item.icon,
          selected: selected(path, item.path),
          onClick: () => setNavOpen(false),
        }))}
      />
    </Navigation>
  );
  const topBar = (
    <TopBar
      showNavigationToggle
      onNavigationToggle={() => setNavOpen((open) => !open)}
      userMenu={
        <TopBar.UserMenu
          name={session.shop ?? ""}
          detail="Development login"
          initials={(session.shop ?? "?").slice(0, 1).toUpperCase()}
          open={menuOpen}
          onToggle={() => setMenuOpen((open) => !open)}
          actions={[{ items: [{ content: "Sign out", onAction: onSignOut }] }]}
        />
      }
    />
  );
  return (
    <Frame
      topBar={topBar}
      navigation={navigation}
      showMobileNavigation={navOpen}
      onNavigationDismiss={() => setNavOpen(false)}
    >
      {page(path)}
    </Frame>
  );
}
