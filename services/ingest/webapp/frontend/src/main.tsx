import "@shopify/polaris/build/esm/styles.css";
import { AppProvider } from "@shopify/polaris";
import en from "@shopify/polaris/locales/en.json";
import { StrictMode, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { Api } from "./api";
import { App } from "./App";
import { readConfig } from "./config";
import { AppContext } from "./context";
import { DevLogin, OpenFromShopify } from "./pages/SignIn";
import { AppLink, RouterProvider } from "./router";
import { Session } from "./session";

function Root() {
  const config = useMemo(readConfig, []);
  const session = useMemo(() => new Session(config), [config]);
  const api = useMemo(() => new Api(session), [session]);
  const [signedIn, setSignedIn] = useState(session.signedIn);
  let content;
  if (signedIn) {
    content = (
      <App
        onSignOut={() => {
          session.signOut();
          setSignedIn(false);
        }}
      />
    );
  } else if (config.devLogin) {
    content = <DevLogin defaultShop={config.shop ?? ""} onSignedIn={() => setSignedIn(true)} />;
  } else {
    content = <OpenFromShopify />;
  }
  return (
    <AppProvider i18n={en} linkComponent={AppLink}>
      <AppContext.Provider value={{ api, session, config }}>
        <RouterProvider>{content}</RouterProvider>
      </AppContext.Provider>
    </AppProvider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
