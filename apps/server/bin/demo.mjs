#!/usr/bin/env node
// `npm run demo`: replays the origin incident and a day of shoppers into a running server.
import { register } from 'tsx/esm/api';

register();
const { runDemoCli } = await import('../src/sim/demo.ts');
process.exitCode = await runDemoCli(process.argv.slice(2), process.env);
