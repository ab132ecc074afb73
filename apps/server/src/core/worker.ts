import { Worker } from 'node:worker_threads';

const entry = new URL('../../bin/worker.mjs', import.meta.url);

/**
 * Starts `module` (a TypeScript module's URL) on a worker thread, through `bin/worker.mjs`, which
 * registers the TypeScript loader first. The parent's Node options are not passed on (`execArgv`
 * empty): the entry sets up what the thread needs.
 */
export function startWorker(module: URL): Worker {
  return new Worker(entry, { workerData: { module: module.href }, execArgv: [] });
}
