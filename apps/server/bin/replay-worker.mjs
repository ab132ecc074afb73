// The reading thread of `bulwark replay` (--threads 2). A worker thread gets no module loader from
// its parent, so TypeScript is registered here the way the `bulwark` bin does it.
import { register } from 'tsx/esm/api';

register();
await import('../src/sim/replay-worker.ts');
