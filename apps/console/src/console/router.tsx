import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';

/** Pages live under /console/; the server answers every such path with the console. */
export const basePath = '/console';

interface Router {
  path: string;
  navigate: (path: string) => void;
}

const RouterContext = createContext<Router | undefined>(undefined);

function currentPath(): string {
  const path = location.pathname.startsWith(basePath) ? location.pathname.slice(basePath.length) : '/';
  return path.length === 0 ? '/' : path;
}

export function RouterProvider({ children }: { children: ReactNode }) {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const onPop = () => setPath(currentPath());
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((next: string) => {
    history.pushState(null, '', basePath + next);
    setPath(next.split('?')[0] ?? next);
  }, []);
  return <RouterContext.Provider value={{ path, navigate }}>{children}</RouterContext.Provider>;
}

export function useRouter(): Router {
  const router = useContext(RouterContext);
  if (router === undefined) throw new Error('useRouter outside RouterProvider');
  return router;
}

/** A link inside the console that changes page without reloading. */
export function Link({ to, children, testId }: { to: string; children: ReactNode; testId?: string }) {
  const { path, navigate } = useRouter();
  return (
    <a
      href={basePath + to}
      data-testid={testId}
      aria-current={path === to ? 'page' : undefined}
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/** Matches `/accounts/:accountId` against a path; answers the decoded parameters or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const have = path.split('/');
  if (want.length !== have.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    const w = want[i] ?? '';
    const h = have[i] ?? '';
    if (w.startsWith(':')) {
      if (h.length === 0) return undefined;
      params[w.slice(1)] = decodeURIComponent(h);
    } else if (w !== h) return undefined;
  }
  return params;
}
