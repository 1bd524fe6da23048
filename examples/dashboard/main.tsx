/** The dashboard's entry: a client of the service this page is served with, and the app. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient } from '../../src/index.js';
import { App } from './app.js';
import { DASHBOARD_PRODUCT } from './product.js';

const productId = new URLSearchParams(location.search).get('product') ?? DASHBOARD_PRODUCT;
// The page and the service share an origin: the dev server proxies /vector and /storage to it.
const client = createClient({ url: location.origin });
addEventListener('pagehide', () => void client.close());

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App client={client} productId={productId} />
  </StrictMode>,
);
