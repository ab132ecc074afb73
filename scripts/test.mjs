// Runs every test file with Node's test runner (TypeScript through tsx). Extra arguments are
// passed on, e.g. `npm test -- --test-name-pattern=replay`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['apps/server/test', 'packages/contracts/test'];
const files = [];
function walk(dir) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(path);
  }
}
roots.forEach(walk);
const filter = process.env.TEST_FILES;
const selected =
  filter === undefined ? files : files.filter((f) => filter.split(',').some((part) => f.includes(part)));
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`,
    ...process.argv.slice(2),
    ...selected,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
