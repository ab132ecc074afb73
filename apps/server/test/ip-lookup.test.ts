import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { buildAsnTable, buildCountryTable } from '../src/adapters/ip/build.ts';
import { decodeIpData, encodeIpData } from '../src/adapters/ip/format.ts';
import { ipTableOf, loadIpLookup } from '../src/adapters/ip/load.ts';
import { networkPrefixOf, parseIp, specialUseOf } from '../src/risk/domain/ip/address.ts';
import { emptyIpLookup, ipLookupOf } from '../src/risk/domain/ip/lookup.ts';
import { propertyParams } from './helpers/fast-check.ts';
import { testIpLookup } from './helpers/login.ts';

describe('IP address parsing', () => {
  const cases: [string, ReturnType<typeof parseIp>][] = [
    ['1.2.3.4', { family: 4, value: 0x01020304 }],
    ['255.255.255.255', { family: 4, value: 0xffffffff }],
    ['0.0.0.0', { family: 4, value: 0 }],
    ['2001:db8::1', { family: 6, high: 0x20010db8, low: 0 }],
    ['2400:4050:1:2:3:4:5:6', { family: 6, high: 0x24004050, low: 0x00010002 }],
    ['::ffff:8.8.8.8', { family: 4, value: 0x08080808 }],
    ['::', { family: 6, high: 0, low: 0 }],
    ['fe80::1%eth0', { family: 6, high: 0xfe800000, low: 0 }],
    ['1.2.3', undefined],
    ['1.2.3.256', undefined],
    ['1.2.3.4.5', undefined],
    ['01234.1.1.1', undefined],
    ['1..2.3', undefined],
    ['2001:db8::1::2', undefined],
    ['2001:db8:g::1', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['', undefined],
    ['not an ip', undefined],
  ];
  for (const [text, expected] of cases) {
    test(`${JSON.stringify(text)} → ${JSON.stringify(expected)}`, () =>
      assert.deepEqual(parseIp(text), expected));
  }

  test('private, loopback, shared, documentation and reserved addresses are recognised', () => {
    const table: [string, string | undefined][] = [
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.32.0.1', undefined],
      ['192.168.1.1', 'private'],
      ['127.0.0.1', 'loopback'],
      ['100.64.0.1', 'shared'],
      ['169.254.1.1', 'link_local'],
      ['192.0.2.1', 'documentation'],
      ['203.0.113.9', 'documentation'],
      ['224.0.0.1', 'reserved'],
      ['8.8.8.8', undefined],
      ['::1', 'loopback'],
      ['fd00::1', 'private'],
      ['fe80::1', 'link_local'],
      ['2001:db8::5', 'documentation'],
      ['ff02::1', 'reserved'],
      ['2400:4050::1', undefined],
    ];
    for (const [text, use] of table) {
      const ip = parseIp(text);
      assert.ok(ip !== undefined, text);
      assert.equal(specialUseOf(ip), use, text);
    }
  });

  test('network prefixes are the /24 and the /64', () => {
    assert.equal(networkPrefixOf(parseIp('20.1.2.3') ?? assert.fail()), '20.1.2.0/24');
    assert.equal(networkPrefixOf(parseIp('2400:4050:1:2:3:4:5:6') ?? assert.fail()), '2400:4050:1:2::/64');
  });
});

describe('IP lookup over a built table', () => {
  const lookup = testIpLookup();
  test('country, AS and kind of public addresses, IPv4 and IPv6', () => {
    assert.deepEqual(lookup.lookup('20.9.9.9'), {
      valid: true,
      family: 4,
      country: 'JP',
      asn: 64500,
      kind: 'fixed',
    });
    assert.deepEqual(lookup.lookup('30.0.0.1'), {
      valid: true,
      family: 4,
      country: 'JP',
      asn: 64501,
      kind: 'hosting',
    });
    assert.deepEqual(lookup.lookup('50.255.255.255'), {
      valid: true,
      family: 4,
      country: 'JP',
      asn: 64503,
      kind: 'mobile',
    });
    assert.deepEqual(lookup.lookup('60.0.0.0'), {
      valid: true,
      family: 4,
      country: 'VN',
      asn: 64504,
      kind: 'fixed',
    });
    assert.deepEqual(lookup.lookup('2400:1::1'), {
      valid: true,
      family: 6,
      country: 'JP',
      asn: 64500,
      kind: 'fixed',
    });
  });
  test('unknown, private and unparseable addresses give no country or AS, never an error', () => {
    assert.deepEqual(lookup.lookup('70.0.0.1'), { valid: true, family: 4 });
    assert.deepEqual(lookup.lookup('19.255.255.255'), { valid: true, family: 4 });
    assert.deepEqual(lookup.lookup('10.0.0.1'), { valid: true, family: 4, special: 'private' });
    assert.deepEqual(lookup.lookup('2600::1'), { valid: true, family: 6 });
    assert.deepEqual(lookup.lookup('bogus'), { valid: false });
    assert.deepEqual(emptyIpLookup().lookup('20.0.0.1'), { valid: true, family: 4 });
  });
  test('the data version names both sources', () =>
    assert.equal(lookup.dataVersion, 'test-country+test-asn'));

  test('property: lookup equals a linear scan of the source ranges', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 0xfffffe }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 50 }),
        (cuts, probes) => {
          // Ranges between sorted cut points (in /8-ish units), alternating AS numbers, some gaps.
          const points = [...cuts].sort((a, b) => a - b).map((c) => c * 256);
          const ranges: [number, number, number][] = [];
          for (let i = 0; i + 1 < points.length; i += 2) {
            ranges.push([points[i] ?? 0, (points[i + 1] ?? 0) - 1, 65000 + (i % 3)]);
          }
          const asnText = ranges.map(([s, e, a]) => `${String(s)},${String(e)},${String(a)},Net`).join('\n');
          const table = ipTableOf(buildCountryTable('', '', 'c'), buildAsnTable(asnText, '', 'a'));
          const probe = ipLookupOf(table);
          for (const value of [...probes, ...ranges.flatMap(([s, e]) => [s, e, e + 1, s - 1])]) {
            if (value < 0 || value > 0xffffffff) continue;
            const text = `${String(value >>> 24)}.${String((value >>> 16) & 255)}.${String((value >>> 8) & 255)}.${String(value & 255)}`;
            const ip = parseIp(text);
            if (ip === undefined || specialUseOf(ip) !== undefined) continue;
            const expected = ranges.find(([s, e]) => value >= s && value <= e)?.[2];
            assert.equal(probe.lookup(text).asn, expected, text);
          }
        },
      ),
      propertyParams(100),
    );
  });

  test('the file format round-trips every array type', () => {
    const bytes = encodeIpData(
      { kind: 'asn', dataVersion: 'x' },
      { a: Uint8Array.from([1, 2, 3]), b: Uint16Array.from([65535, 7]), c: Uint32Array.from([0xffffffff]) },
    );
    const { header, arrays } = decodeIpData(bytes);
    assert.equal(header.dataVersion, 'x');
    assert.deepEqual([...(arrays.a ?? [])], [1, 2, 3]);
    assert.ok(arrays.b instanceof Uint16Array);
    assert.deepEqual([...arrays.b], [65535, 7]);
    assert.deepEqual([...(arrays.c ?? [])], [0xffffffff]);
    assert.throws(() => decodeIpData(bytes.subarray(0, bytes.length - 2)), /truncated/);
  });
});

describe('the shipped IP tables', () => {
  const shipped = loadIpLookup();
  test('know well-known networks by country and AS', () => {
    const table: [string, string, number][] = [
      ['8.8.8.8', 'US', 15169],
      ['1.1.1.1', 'AU', 13335],
      ['2001:4860:4860::8888', 'US', 15169],
    ];
    for (const [ip, country, asn] of table) {
      const info = shipped.lookup(ip);
      assert.equal(info.country, country, ip);
      assert.equal(info.asn, asn, ip);
    }
    assert.equal(shipped.lookup('8.8.8.8').kind, 'hosting');
    assert.match(shipped.dataVersion, /^ipfire-\d{4}-\d{2}-\d{2}\+ip-location-db-asn-/);
  });
  test('answer JP for Japanese ISPs, IPv4 and IPv6', () => {
    assert.equal(shipped.lookup('133.205.1.1').country, 'JP');
    assert.equal(shipped.lookup('2400:4050::1').country, 'JP');
  });
});
