import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { reconciliationRunViewSchema } from '@bulwark/contracts';
import { runCli } from '../../src/cli/main.ts';

describe('bulwark reconcile', () => {
  test('runs one pass (incremental, then --full) and prints the run; bad flags are a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-reconcile-cli-'));
    try {
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
      const env = { BULWARK_LOG_LEVEL: 'silent' };
      assert.equal(await runCli(['reconcile', '--data', dir], env, io), 0, err.join(''));
      assert.equal(reconciliationRunViewSchema.parse(JSON.parse(out.join(''))).mode, 'incremental');
      out.length = 0;
      assert.equal(await runCli(['reconcile', '--full', '--data', dir], env, io), 0, err.join(''));
      assert.equal(reconciliationRunViewSchema.parse(JSON.parse(out.join(''))).mode, 'full');
      assert.equal(await runCli(['reconcile', '--everything', '--data', dir], env, io), 2);
      assert.equal(await runCli(['reconcile', '--data', dir], { ...env, BULWARK_CONNECTORS: 'none' }, io), 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
