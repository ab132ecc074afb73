// The entry of Bulwark's worker threads (replay's reading thread).
// A worker thread gets no module loader from its parent, so TypeScript is registered here the way
// the `bulwark` bin does it; then the module named in `workerData.module` (a file URL) runs.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
