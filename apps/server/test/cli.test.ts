import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decisionSchema, errorBodySchema } from '@bulwark/contracts';
import { developmentSecret } from '../src/config/config.ts';
import {
  firstStartKey,
  httpJson,
  killAllChildren,
  runBulwark,
  startBulwark,
  type RunningServer,
} from './helpers/processes.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bulwark-cli-test-'));

after(async () => {
  await killAllChildren();
  rmSync(scratch, { recursive: true, force: true });
});

const keyPattern = /^bwk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/;

const signIn = (id: string) => ({
  id,
  type: 'login.succeeded',
  at: new Date(Date.now() - 60_000).toISOString(),
  accountId: 'cli-acct',
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0', deviceId: 'cli-dev' },
  method: 'password',
});

/** The key answers a real request against the server. */
async function assertKeyWorks(server: RunningServer, key: string, eventId: string): Promise<void> {
  const answer = await httpJson(`${server.url}/v1/events`, { key, body: signIn(eventId) });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(decisionSchema.parse(answer.body).eventId, eventId);
}

/** A pid that certainly belonged to a process that is gone now. */
function deadPid(): number {
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  const pid = Number(gone.stdout);
  assert.ok(Number.isInteger(pid) && pid > 0);
  return pid;
}

// The two groups run side by side (most of the time goes to starting processes); the cases
// inside each group run one after the other.
describe('the bulwark command', { concurrency: true }, () => {
  // One data folder goes through a whole life: creating it takes seconds, so the cases share it
  // and run in order.
  describe('bulwark with one embedded data folder', { concurrency: 1 }, () => {
    const dataDir = join(scratch, 'data');
    let server: RunningServer | undefined;
    let createdKey = '';

    test('migrate on a new folder applies 0001_init, and a second run is up to date', async () => {
      const first = await runBulwark(['migrate', '--data', dataDir], { timeoutMs: 120_000 });
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, /^applied: 0001_init/);
      const second = await runBulwark(['migrate', '--data', dataDir], { timeoutMs: 120_000 });
      assert.equal(second.status, 0, second.stderr);
      assert.match(second.stdout, /up to date/);
    });

    test('start --port 0 prints the API URL with its real port, answers /readyz and prints a first key', async () => {
      server = await startBulwark(['--data', dataDir]);
      const port = Number(new URL(server.url).port);
      assert.ok(port > 0, `a real port, not 0: ${server.url}`);
      const ready = await httpJson(`${server.url}/readyz`);
      assert.equal(ready.status, 200);
      const key = await firstStartKey(server);
      assert.match(`${key}\n`, keyPattern);
      await assertKeyWorks(server, key, 'cli-first-key');
    });

    test('a second process on the folder in use is refused with a message naming the folder', async () => {
      assert.ok(server !== undefined, 'the server of the previous case runs');
      const second = await runBulwark(['keys', 'create', '--name', 'intruder', '--data', dataDir]);
      assert.notEqual(second.status, 0);
      assert.equal(second.stdout, '', 'no key is printed');
      assert.ok(second.stderr.includes(dataDir), second.stderr);
      assert.match(second.stderr, new RegExp(`in use by process ${server.process.pid}`));
    });

    test('SIGTERM stops the server with exit status 0 and releases the folder', async () => {
      assert.ok(server !== undefined, 'the server of the previous case runs');
      await server.process.kill('SIGTERM');
      const exit = await server.process.waitForExit('the server to stop after SIGTERM', 60_000);
      assert.deepEqual(exit, { code: 0, signal: null }, server.process.describe());
      assert.ok(!existsSync(join(dataDir, 'bulwark.lock')), 'the lock file is removed');
      server = undefined;
    });

    test('keys create prints the key alone on stdout', async () => {
      const created = await runBulwark(['keys', 'create', '--name', 'X', '--data', dataDir]);
      assert.equal(created.status, 0, created.stderr);
      assert.match(created.stdout, keyPattern);
      createdKey = created.stdout.trim();
    });

    test('the created key works against a server started on the folder afterwards, which prints no new key', async () => {
      assert.notEqual(createdKey, '', 'the previous case created a key');
      server = await startBulwark(['--data', dataDir]);
      await assertKeyWorks(server, createdKey, 'cli-created-key');
      const unknown = await httpJson(`${server.url}/v1/events`, {
        key: `${createdKey.slice(0, -1)}${createdKey.endsWith('A') ? 'B' : 'A'}`,
        body: signIn('cli-wrong-key'),
      });
      assert.equal(unknown.status, 401);
      assert.equal(errorBodySchema.parse(unknown.body).error.code, 'UNAUTHORIZED');
      assert.doesNotMatch(server.process.stdout, /API key/, 'keys exist: no first-start key');
      await server.process.kill('SIGTERM');
      const exit = await server.process.waitForExit('the server to stop after SIGTERM', 60_000);
      assert.equal(exit.code, 0, server.process.describe());
      server = undefined;
    });

    test('a lock left by a dead process is taken over', async () => {
      const lockPath = join(dataDir, 'bulwark.lock');
      writeFileSync(lockPath, String(deadPid()));
      const created = await runBulwark(['keys', 'create', '--name', 'after-crash', '--data', dataDir]);
      assert.equal(created.status, 0, created.stderr);
      assert.match(created.stdout, keyPattern);
      assert.ok(!existsSync(lockPath), 'the lock is released again');
    });
  });

  describe('bulwark refuses what it cannot run', { concurrency: 1 }, () => {
    test('refuses to start in production without a secret of its own, and on a bad port, with exit 78', async () => {
      const neverCreated = join(scratch, 'never-created');
      const [withoutSecret, withDefault, badPort] = await Promise.all([
        runBulwark(['start', '--data', neverCreated], { env: { NODE_ENV: 'production' } }),
        runBulwark(['start', '--data', neverCreated], {
          env: { NODE_ENV: 'production', BULWARK_SECRET: developmentSecret },
        }),
        runBulwark(['start', '--data', neverCreated], { env: { BULWARK_PORT: 'abc' } }),
      ]);
      for (const refused of [withoutSecret, withDefault]) {
        assert.equal(refused.status, 78, refused.stderr);
        assert.match(refused.stderr, /BULWARK_SECRET/);
      }
      assert.equal(badPort.status, 78, badPort.stderr);
      assert.match(badPort.stderr, /BULWARK_PORT/);
      for (const refused of [withoutSecret, withDefault, badPort]) {
        assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
        assert.doesNotMatch(refused.stdout, /API:/);
      }
      assert.ok(!existsSync(neverCreated), 'nothing was opened');
    });

    test('keys create without --name is a usage error (exit 2)', async () => {
      const result = await runBulwark(['keys', 'create', '--data', join(scratch, 'never-created')]);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, /--name/);
      assert.equal(result.stdout, '');
    });
  });
});
