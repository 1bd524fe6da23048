/**
 * A small browser app as a user writes it, importing the package by its name: bundled by
 * test/package/bundle.test.ts with esbuild (`--platform=browser`) and with Vite, and type-checked
 * without `@types/node` and with `skipLibCheck: false`. It is never run: the bundles are read.
 */
import { createRoot } from 'react-dom/client';
import { createClient, replay, TaskStore, type ExportTask, type TaskEvent } from 'export-task';
import { useExportTask, useTaskStore } from 'export-task/react';

const client = createClient({
  url: location.origin,
  token: async ({ refresh }) => ((await (await fetch(`/api/token${refresh ? '?fresh' : ''}`)).json()) as { token: string }).token,
});
const store = new TaskStore();
const history: TaskEvent[] = [{ type: 'queued', product_id: 'roads', export_id: 'e1', seq: 1, time: '2026-01-01T00:00:00Z' }];
const resumed = replay(history);

function Row({ task }: { readonly task: ExportTask }) {
  const { phase, progress } = useExportTask(task);
  return (
    <li>
      {task.exportId}: {phase} <progress value={progress} max={1} />
    </li>
  );
}

function App() {
  const running = useTaskStore(store, (s) => [...s.snapshots()].filter((t) => t.phase === 'running').length);
  return (
    <main>
      <p>
        {running} running; the first export was {resumed.phase}
      </p>
      <button
        onClick={() => {
          void (async () => {
            const task = await client.featureCollection('roads').export('exports/roads.ndjson');
            createRoot(document.createElement('ul')).render(<Row task={task} />);
            const out = new WritableStream<Uint8Array>();
            await task.getFile(out);
            await client.close();
          })();
        }}
      >
        Export
      </button>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
