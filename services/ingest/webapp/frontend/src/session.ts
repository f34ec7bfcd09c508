// The Shopify session token every admin call carries (Authorization: Bearer ...).
// Inside Shopify admin App Bridge gives it (shopify.idToken()); outside, the development login
// (POST /app/dev/session_token.json, only where APP_DEV_LOGIN is on) makes one for the shop.
import type { AppConfig } from "./config";

declare global {
  interface Window {
    shopify?: { idToken(): Promise<string> };
  }
}

const STORAGE_KEY = "fortbridge.devShop";

interface DevToken {
  token: string;
  expiresAt: number;
}

export class Session {
  private devToken: DevToken | null = null;
  private devShop: string | null;

  constructor(private readonly config: AppConfig) {
    this.devShop = config.embedded ? null : readStoredShop(config.shop);
  }

  get shop(): string | null {
    return this.config.embedded ? this.config.shop : this.devShop;
  }

  get embedded(): boolean {
    return this.config.embedded;
  }

  get signedIn(): boolean {
    return this.config.embedded || this.devShop !== null;
  }

  async token(): Promise<string> {
    if (this.config.embedded) {
      if (!window.shopify) throw new Error("App Bridge did not load: open the app from Shopify admin.");
      return window.shopify.idToken();
    }
    if (!this.devShop) throw new Error("Not signed in.");
    const now = Date.now();
    if (this.devToken && this.devToken.expiresAt - now > 10_000) return this.devToken.token;
    const response = await fetch("/app/dev/session_token.json", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ shop: this.devShop }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error ?? `The development login failed (${response.status}).`);
    this.devToken = { token: body.session_token, expiresAt: now + body.expires_in * 1000 };
    return this.devToken.token;
  }

  async signIn(shop: string): Promise<void> {
    this.devShop = shop.trim().toLowerCase();
    this.devToken = null;
    try {
      await this.token();
    } catch (error) {
      this.devShop = null;
      throw error;
    }
    window.sessionStorage.setItem(STORAGE_KEY, this.devShop);
  }

  signOut(): void {
    this.devShop = null;
    this.devToken = null;
    window.sessionStorage.removeItem(STORAGE_KEY);
  }
}

function readStoredShop(fromUrl: string | null): string | null {
  const stored = window.sessionStorage.getItem(STORAGE_KEY);
  if (fromUrl && stored && fromUrl !== stored) return null; // the URL names another shop
  return stored;
}
