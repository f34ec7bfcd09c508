// A small router over the History API: the app's pages under /app/, each a path.
import { createContext, useContext, useEffect, useState, type ComponentProps, type ReactNode } from "react";
import type { AppProviderProps } from "@shopify/polaris";

type LinkLikeComponentProps = ComponentProps<NonNullable<AppProviderProps["linkComponent"]>>;

export const BASE = "/app";

interface Route {
  path: string; // below /app, e.g. "/orders"
  navigate(to: string): void;
}

const RouteContext = createContext<Route>({ path: "/", navigate: () => undefined });

function current(): string {
  const path = window.location.pathname.startsWith(BASE) ? window.location.pathname.slice(BASE.length) : "/";
  return path === "" ? "/" : path;
}

// Shopify admin's query (embedded, host, shop) travels with every page of the app.
function kept(): string {
  const params = new URLSearchParams(window.location.search);
  const keep = new URLSearchParams();
  for (const name of ["embedded", "host", "shop"]) {
    const value = params.get(name);
    if (value) keep.set(name, value);
  }
  const text = keep.toString();
  return text ? `?${text}` : "";
}

export function href(to: string): string {
  const [path, search] = to.split("?");
  const extra = kept();
  const joined = search ? (extra ? `${extra}&${search}` : `?${search}`) : extra;
  return `${BASE}${path === "/" ? "/" : path}${joined}`;
}

export function RouterProvider({ children }: { children: ReactNode }) {
  const [path, setPath] = useState(current());
  useEffect(() => {
    const onPop = () => setPath(current());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = (to: string) => {
    window.history.pushState(null, "", href(to));
    setPath(current());
    window.scrollTo(0, 0);
  };
  return <RouteContext.Provider value={{ path, navigate }}>{children}</RouteContext.Provider>;
}

export function useRoute(): Route {
  return useContext(RouteContext);
}

// Polaris renders its links (Navigation, Button url, Link) with this: in-app paths route here.
export function AppLink({ url, children, external, ...rest }: LinkLikeComponentProps) {
  const { navigate } = useRoute();
  const internal = !external && url.startsWith("/") && !url.startsWith("//");
  if (!internal) {
    return (
      <a href={url} target={external ? "_blank" : undefined} rel={external ? "noopener noreferrer" : undefined} {...rest}>
        {children}
      </a>
    );
  }
  return (
    <a
      href={href(url)}
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        navigate(url);
      }}
      {...rest}
    >
      {children}
    </a>
  );
}
