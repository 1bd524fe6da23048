import { createClient, createEmbeddedBackend } from '../../src/index.node.js';
import { exportScenarios } from '../support/export-scenarios.js';

exportScenarios('ExportTask on the embedded service', (dataDir) => {
  const backend = createEmbeddedBackend({ dataDir, concurrency: 2 });
  return Promise.resolve({
    dataDir,
    // A backend given to a client stays its owner's: closing a client leaves it running.
    client: (options) => createClient({ ...options, backend }),
    close: () => backend.close(),
  });
});
