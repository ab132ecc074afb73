// Rebuilds apps/server/data/ip/{country,asn}.bin.gz from upstream files (see SOURCE.md there).
//
//   apt-get install tor-geoipdb                 # /usr/share/tor/geoip and geoip6 (IPFire Location)
//   (cd /tmp && npm pack @ip-location-db/asn && tar xzf ip-location-db-asn-*.tgz)
//   npm run ip:refresh -- --geoip /usr/share/tor/geoip --geoip6 /usr/share/tor/geoip6 --asn-dir /tmp/package
//
// Inputs may be plain or gzip-compressed. Nothing is downloaded here.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildAsnTable, buildCountryTable } from '../apps/server/src/adapters/ip/build.ts';
import { shippedIpDataDir } from '../apps/server/src/adapters/ip/load.ts';

const { values } = parseArgs({
  options: {
    geoip: { type: 'string' },
    geoip6: { type: 'string' },
    'asn-dir': { type: 'string' },
    out: { type: 'string' },
  },
});
if (values.geoip === undefined || values.geoip6 === undefined || values['asn-dir'] === undefined) {
  process.stderr.write('usage: npm run ip:refresh -- --geoip FILE --geoip6 FILE --asn-dir DIR [--out DIR]\n');
  process.exit(2);
}
const text = (path: string): string => {
  const bytes = readFileSync(path);
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
};
const geoip = text(values.geoip);
const generated = /Generated: ([^\n]+)/.exec(geoip)?.[1]?.trim() ?? 'unknown date';
const countryVersion = `ipfire-${new Date(generated).toISOString().slice(0, 10)}`;
const asnPackage = JSON.parse(readFileSync(join(values['asn-dir'], 'package.json'), 'utf8')) as {
  version: string;
};
const asnVersion = `ip-location-db-asn-${asnPackage.version}`;
const out = values.out ?? shippedIpDataDir;

const country = buildCountryTable(geoip, text(values.geoip6), countryVersion);
const asn = buildAsnTable(
  text(join(values['asn-dir'], 'asn-ipv4-num.csv')),
  text(join(values['asn-dir'], 'asn-ipv6.csv')),
  asnVersion,
);
writeFileSync(join(out, 'country.bin.gz'), gzipSync(country, { level: 9 }));
writeFileSync(join(out, 'asn.bin.gz'), gzipSync(asn, { level: 9 }));
process.stdout.write(`wrote ${out}: ${countryVersion}, ${asnVersion}\n`);
