import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { errorBodySchema } from '@bulwark/contracts';
import { pwnedPassword, pwnedPasswordRange } from 'hibp';
import { runCli } from '../src/cli/main.ts';
import { openStorage } from '../src/main.ts';
import { loadConfig } from '../src/config/config.ts';
import { backends, createPostgresDatabase } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex').toUpperCase();

/** A password no list contains (checked below), and one we import as breached. */
const fresh = 'violet-harbour-kettle-1987!';
const leaked = 'correct horse battery staple 42';

for (const backend of backends()) {
  describe(`password checks on ${backend}`, () => {
    let t: TestService;
    let baseUrl: string;
    before(async () => {
      t = await startTestService(backend);
      baseUrl = await t.service.listen();
    });
    after(async () => {
      await t.close();
    });

    test('POST /v1/passwords/check: NIST length rules and the common-password blocklist', async () => {
      const check = async (password: string, context?: string[]) => {
        const answer = await t.request('POST', '/v1/passwords/check', {
          password,
          ...(context ? { context } : {}),
        });
        assert.equal(answer.status, 200);
        return answer.body as { acceptable: boolean; problems: { code: string; count?: number }[] };
      };
      assert.deepEqual(await check(fresh), { acceptable: true, problems: [] });
      const short = await check('a1b2c3');
      assert.equal(short.acceptable, false);
      assert.deepEqual(
        short.problems.map((p) => p.code),
        ['too_short', 'breached'],
      );
      // Length counts characters (code points), not bytes: eight Japanese characters are enough.
      assert.equal((await check('すずめのとじまりし')).acceptable, true);
      const common = await check('password1');
      assert.equal(common.acceptable, false);
      assert.ok((common.problems.find((p) => p.code === 'breached')?.count ?? 0) > 500);
      assert.equal((await check('iloveyou')).acceptable, false);
      assert.deepEqual((await check('x'.repeat(300))).problems, [{ code: 'too_long', lengthMax: 256 }]);
      const personal = await check('example-store-forever', ['Example-Store']);
      assert.deepEqual(
        personal.problems.map((p) => p.code),
        ['contains_context'],
      );
      const bad = await t.request('POST', '/v1/passwords/check', { password: 12345678 });
      assert.equal(errorBodySchema.parse(bad.body).error.code, 'INVALID_PARAMETER');
      const noKey = await t.service.app.inject({
        method: 'POST',
        url: '/v1/passwords/check',
        payload: { password: fresh },
      });
      assert.equal(noKey.statusCode, 401, 'the check needs the API key');
    });

    test('GET /range/{prefix} answers in the Pwned Passwords format; the hibp client reads it', async () => {
      const before = await pwnedPassword(leaked, { baseUrl });
      assert.equal(before, 0);
      assert.equal(await pwnedPassword(fresh, { baseUrl }), 0);
      // The shipped list: "password" is the most common password after "123456".
      assert.ok((await pwnedPassword('password', { baseUrl })) > 10_000);

      const hash = sha1(leaked);
      const service = t.service;
      const imported = await import('../src/verify/passwords.ts').then(({ PasswordService }) =>
        new PasswordService({ store: service.storage.verification, common: new Map() }).importDump([
          `${hash}:1234`,
          'not a hash',
          `${sha1('another one')}:7`,
        ]),
      );
      assert.deepEqual(imported, { imported: 2, skipped: 1 });
      assert.equal(await pwnedPassword(leaked, { baseUrl }), 1234);
      const suffixes = await pwnedPasswordRange(hash.slice(0, 5), { baseUrl });
      assert.equal(suffixes[hash.slice(5)], 1234);
      for (const [suffix, count] of Object.entries(suffixes)) {
        assert.match(suffix, /^[0-9A-F]{35}$/);
        assert.ok(Number.isInteger(count) && count > 0);
      }
      // Padding, as the real API pads: at least 800 rows, the padding with count 0.
      const padded = await fetch(`${baseUrl}/range/${hash.slice(0, 5).toLowerCase()}`, {
        headers: { 'add-padding': 'true' },
      });
      const rows = (await padded.text()).split('\r\n');
      assert.ok(rows.length >= 800);
      assert.ok(rows.includes(`${hash.slice(5)}:1234`));
      assert.ok(rows.some((row) => row.endsWith(':0')));
      // The range API is public (as the original) and refuses bad prefixes with a clear error.
      for (const bad of ['ABCD', 'ABCDEF', 'GGGGG']) {
        const answer = await fetch(`${baseUrl}/range/${bad}`);
        assert.equal(answer.status, 400);
        assert.equal(errorBodySchema.parse(await answer.json()).error.code, 'INVALID_PARAMETER');
      }
      const check = await t.request('POST', '/v1/passwords/check', { password: leaked });
      assert.deepEqual((check.body as { problems: unknown[] }).problems, [{ code: 'breached', count: 1234 }]);
    });

    test('bulwark passwords import FILE loads a Pwned Passwords dump', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bulwark-pw-'));
      const dump = join(dir, 'pwned.txt');
      writeFileSync(dump, `${sha1('hunter2-but-longer')}:99\r\n${sha1('tr0ub4dor&3')}:12\r\ngarbage\r\n`);
      const postgres = backend === 'postgres' ? await createPostgresDatabase() : undefined;
      const env = postgres === undefined ? {} : { DATABASE_URL: postgres.url };
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
      try {
        const status = await runCli(['passwords', 'import', dump, '--data', join(dir, 'data')], env, io);
        assert.equal(status, 0, err.join(''));
        assert.match(out.join(''), /imported 2 password hashes, skipped 1 lines/);
        const storage = await openStorage(loadConfig(env, { dataDir: join(dir, 'data') }));
        try {
          assert.equal(await storage.verification.passwordCount(sha1('hunter2-but-longer')), 99);
        } finally {
          await storage.close();
        }
        assert.equal(await runCli(['passwords', 'import', join(dir, 'missing.txt')], env, io), 1);
        assert.equal(await runCli(['passwords', 'export'], env, io), 2);
      } finally {
        await postgres?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
