import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Secret, TOTP } from 'otpauth';
import { checkCode, codeDigest, codePolicy, generateCode, readCode } from '../src/verify/domain/codes.ts';
import { availableMethods } from '../src/verify/domain/methods.ts';
import { FixedWindowLimiter } from '../src/verify/domain/rate-limit.ts';
import { deriveKey, signToken, verifyToken, type TokenPurpose } from '../src/verify/domain/tokens.ts';
import { checkTotp, secretFromBytes, totpFor } from '../src/verify/domain/totp.ts';
import { seededRandom } from '../src/core/random.ts';
import { propertyParams } from './helpers/fast-check.ts';

describe('TOTP (RFC 6238)', () => {
  // RFC 6238 Appendix B: 8-digit codes for the ASCII seeds below at the listed Unix times.
  const seeds = {
    SHA1: '12345678901234567890',
    SHA256: '12345678901234567890123456789012',
    SHA512: '1234567890123456789012345678901234567890123456789012345678901234',
  } as const;
  const vectors: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  for (const [timeS, sha1, sha256, sha512] of vectors) {
    test(`the RFC 6238 vectors at T=${String(timeS)}`, () => {
      for (const [algorithm, expected] of [
        ['SHA1', sha1],
        ['SHA256', sha256],
        ['SHA512', sha512],
      ] as const) {
        const totp = new TOTP({
          algorithm,
          digits: 8,
          period: 30,
          secret: Secret.fromUTF8(seeds[algorithm]),
        });
        assert.equal(
          totp.generate({ timestamp: timeS * 1000 }),
          expected,
          `${algorithm} at ${String(timeS)}`,
        );
      }
    });
  }

  test('accepts codes from Debian oathtool within ±1 step and refuses them further away', () => {
    const secret = secretFromBytes(Buffer.from('a-secret-of-twenty-b'));
    const totp = totpFor(secret, 'acct', 'Store');
    const nowMs = Date.parse('2026-11-25T09:00:10Z');
    const oathtool = (offsetS: number): string =>
      execFileSync(
        'oathtool',
        ['--totp', '--base32', secret, '--now', new Date(nowMs + offsetS * 1000).toISOString()],
        {
          encoding: 'utf8',
        },
      ).trim();
    for (const offsetS of [-30, 0, 30]) {
      const checked = checkTotp(totp, oathtool(offsetS), nowMs, () => false);
      assert.ok(checked.ok, `oathtool code ${String(offsetS)} s away is accepted`);
      assert.equal(checked.step, Math.floor(nowMs / 30_000) + offsetS / 30);
    }
    for (const offsetS of [-90, 90]) {
      assert.deepEqual(
        checkTotp(totp, oathtool(offsetS), nowMs, () => false),
        { ok: false, problem: 'wrong' },
      );
    }
    // A step already used is a replay, whatever the code says.
    assert.deepEqual(
      checkTotp(totp, oathtool(0), nowMs, () => true),
      { ok: false, problem: 'replayed' },
    );
  });

  test('the otpauth:// URI carries the issuer, SHA1, 6 digits and 30 s', () => {
    const uri = totpFor('JBSWY3DPEHPK3PXP', 'acct-1', 'Example Store').toString();
    assert.match(uri, /^otpauth:\/\/totp\/Example%20Store:acct-1\?/);
    assert.match(uri, /secret=JBSWY3DPEHPK3PXP/);
    assert.match(uri, /algorithm=SHA1/);
    assert.match(uri, /digits=6/);
    assert.match(uri, /period=30/);
  });
});

describe('one-time codes', () => {
  const key = deriveKey('test-secret', 'code');

  test('reads typed codes: spaces and dashes ignored; malformed and over-long named apart', () => {
    assert.deepEqual(readCode('123 456'), { ok: true, code: '123456' });
    assert.deepEqual(readCode('123-456'), { ok: true, code: '123456' });
    assert.deepEqual(readCode('12345'), { ok: false, problem: 'malformed' });
    assert.deepEqual(readCode('12a456'), { ok: false, problem: 'malformed' });
    assert.deepEqual(readCode(123456), { ok: false, problem: 'malformed' });
    assert.deepEqual(readCode('1234567'), { ok: false, problem: 'too_long' });
    assert.deepEqual(readCode('1'.repeat(10_000)), { ok: false, problem: 'too_long' });
  });

  test('generated codes are 6 digits, uniform over digits', () => {
    const random = seededRandom(7);
    const randomInt = (max: number): number => Math.floor(random() * max);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 2000; i += 1) {
      const code = generateCode(randomInt);
      assert.match(code, /^\d{6}$/);
      for (const digit of code) counts[Number(digit)] = (counts[Number(digit)] ?? 0) + 1;
    }
    for (const count of counts) assert.ok(count > 1000 && count < 1400, `digit count ${String(count)}`);
  });

  test('checks a code against its digest and expiry', () => {
    const digest = codeDigest(key, 'ch_1', '123456');
    const stored = { digest, expiresAtMs: 1000 };
    assert.equal(checkCode(stored, key, 'ch_1', '123456', 999), 'passed');
    assert.equal(checkCode(stored, key, 'ch_1', '123457', 999), 'wrong');
    assert.equal(checkCode(stored, key, 'ch_1', '123456', 1000), 'expired');
    // The digest is bound to its challenge: the same code for another challenge is wrong.
    assert.equal(checkCode(stored, key, 'ch_2', '123456', 999), 'wrong');
    assert.equal(
      checkCode({ digest: undefined, expiresAtMs: undefined }, key, 'ch_1', '123456', 0),
      'no_code',
    );
    assert.ok(codePolicy.codeTtlMs <= 5 * 60_000);
  });
});

describe('signed link tokens', () => {
  const keyFor = (purpose: TokenPurpose): Buffer => deriveKey('test-secret', `token:${purpose}`);
  const token = signToken(keyFor, { p: 'email_link', sub: 'ch_1', jti: 'j1', exp: 10_000 });

  test('verify for their purpose until they expire', () => {
    const checked = verifyToken(keyFor, 'email_link', token, 9_999);
    assert.ok(checked.ok);
    assert.equal(checked.payload.sub, 'ch_1');
    assert.deepEqual(verifyToken(keyFor, 'email_link', token, 10_000), { ok: false, problem: 'expired' });
    // Another purpose has another key.
    assert.deepEqual(verifyToken(keyFor, 'confirm', token, 0), { ok: false, problem: 'bad_signature' });
    // Another secret has other keys.
    const other = (purpose: TokenPurpose): Buffer => deriveKey('other-secret', `token:${purpose}`);
    assert.deepEqual(verifyToken(other, 'email_link', token, 0), { ok: false, problem: 'bad_signature' });
  });

  test('any change to a token makes it invalid (property)', () => {
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.integer({ min: 1, max: 60 }), (position, shift) => {
        const chars = token.split('');
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
        const at = alphabet.indexOf(chars[position] ?? 'A');
        chars[position] = alphabet.charAt((at + shift) % alphabet.length);
        const tampered = chars.join('');
        if (tampered === token) return;
        assert.equal(verifyToken(keyFor, 'email_link', tampered, 0).ok, false);
      }),
      propertyParams(300),
    );
  });

  test('malformed and over-long tokens are refused unread', () => {
    for (const bad of ['', 'v1', 'v1.a.b', 'v2.x.y', `v1.${'A'.repeat(2000)}.x`, 42, null]) {
      assert.deepEqual(verifyToken(keyFor, 'email_link', bad, 0), { ok: false, problem: 'malformed' });
    }
  });
});

describe('rate limits', () => {
  test('a fixed window allows `limit` hits and tells how long to wait', () => {
    const limiter = new FixedWindowLimiter({ limit: 3, windowMs: 60_000, keysMax: 10 });
    for (let i = 0; i < 3; i += 1) assert.equal(limiter.take('ip', 1000 + i).allowed, true);
    assert.deepEqual(limiter.take('ip', 2000), { allowed: false, retryAfterMs: 59_000 });
    assert.equal(limiter.take('other-ip', 2000).allowed, true);
    assert.equal(limiter.take('ip', 61_000).allowed, true);
  });
});

describe('methods', () => {
  const none = { hasEmail: false, hasPhone: false, hasPasskey: false, hasTotp: false };
  test('only what the account can use; stronger methods stand in, never for a passkey', () => {
    assert.deepEqual(availableMethods(['passkey', 'email_otp', 'sms_otp'], { ...none, hasEmail: true }), [
      'email_otp',
      'email_link',
      'device_confirmation',
    ]);
    assert.deepEqual(
      availableMethods(['email_otp'], { ...none, hasEmail: true, hasTotp: true, hasPasskey: true }),
      ['email_otp', 'passkey', 'totp', 'email_link', 'device_confirmation'],
    );
    assert.deepEqual(availableMethods(['passkey'], { ...none, hasTotp: true, hasEmail: true }), []);
  });
});
