/**
 * The dashboard's entry. The page asks its own server for a session (the service's URL, the one
 * product it may use and a short-lived token for it), then talks to the service, on another
 * origin, directly: the service allows this page's origin (CORS). The client asks the page's
 * server for a new token shortly before the current one expires, and once more if the service
 * refuses one.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient, type AccessTokenRequest } from '../../src/index.js';
import { App } from './app.js';
import type { DashboardSession } from './start-dashboard.js';

async function fetchSession(): Promise<DashboardSession> {
  const response = await fetch('/api/export-token', { cache: 'no-store' });
  if (!response.ok) throw new Error(`The page's server gave no access token (${response.status} ${response.statusText}): is \`npm run dashboard\` running?`);
  return (await response.json()) as DashboardSession;
}

const root = createRoot(document.getElementById('root')!);
try {
  const session = await fetchSession();
  let first: string | undefined = session.token;
  const token = async ({ refresh }: AccessTokenRequest): Promise<string> => {
    // The session's own token serves the first request; every later ask is a new one.
    const given = refresh ? undefined : first;
    first = undefined;
    return given ?? (await fetchSession()).token;
  };
  const client = createClient({ url: session.serviceUrl, token });
  addEventListener('pagehide', () => void client.close());
  root.render(
    <StrictMode>
      <App client={client} productId={session.productId} token={token} serviceUrl={session.serviceUrl} />
    </StrictMode>,
  );
} catch (error) {
  root.render(
    <p role="alert" className="error">
      {error instanceof Error ? error.message : String(error)}
    </p>,
  );
}
