// What the server told the page when it served it (services/ingest/webapp/routes.py).
export interface AppConfig {
  apiKey: string;
  embedded: boolean;
  shop: string | null;
  host: string | null;
  devLogin: boolean;
}

export function readConfig(): AppConfig {
  const element = document.getElementById("fortbridge-config");
  const parsed = element?.textContent ? JSON.parse(element.textContent) : {};
  return {
    apiKey: String(parsed.apiKey ?? ""),
    embedded: parsed.embedded === true,
    shop: typeof parsed.shop === "string" ? parsed.shop : null,
    host: typeof parsed.host === "string" ? parsed.host : null,
    devLogin: parsed.devLogin === true,
  };
}
