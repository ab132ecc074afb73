// Builds the console (apps/console → apps/console/dist) that the server serves at /console.
// Run by the root `prepare` script, so `npm install` and `npm ci` leave a working console behind;
// docs/adr/0010-console-build.md says why. Skips with a note when Vite is not installed (an
// install without dev dependencies): the server then answers /console with how to build it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const consoleDir = join(root, 'apps', 'console');
let viteBin;
try {
  const require = createRequire(join(consoleDir, 'package.json'));
  viteBin = join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
} catch {
  viteBin = undefined;
}
if (viteBin === undefined || !existsSync(viteBin)) {
  console.warn('bulwark: Vite is not installed, so the console was not built (npm install builds it).');
  process.exit(0);
}
const result = spawnSync(process.execPath, [viteBin, 'build', '--logLevel', 'warn'], {
  cwd: consoleDir,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
