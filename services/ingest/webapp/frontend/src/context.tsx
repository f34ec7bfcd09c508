// What every page uses: the API client, the session and the server's configuration.
import { createContext, useContext } from "react";
import type { Api } from "./api";
import type { AppConfig } from "./config";
import type { Session } from "./session";

export interface AppContextValue {
  api: Api;
  session: Session;
  config: AppConfig;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error("useApp outside the app");
  return value;
}
