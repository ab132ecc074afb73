import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { ipLookupOf, type IpLookup, type IpTableData } from '../../risk/domain/ip/lookup.ts';
import { decodeIpData, type IpDataArrays } from './format.ts';

/** The tables shipped with the project (see `apps/server/data/ip/SOURCE.md`). */
export const shippedIpDataDir = fileURLToPath(new URL('../../../data/ip/', import.meta.url));

function u32(arrays: IpDataArrays, name: string): Uint32Array {
  const array = arrays[name];
  if (!(array instanceof Uint32Array)) throw new Error(`IP data lacks the u32 array "${name}"`);
  return array;
}
function u16(arrays: IpDataArrays, name: string): Uint16Array {
  const array = arrays[name];
  if (!(array instanceof Uint16Array)) throw new Error(`IP data lacks the u16 array "${name}"`);
  return array;
}

/** The table from the two decoded (gunzipped) files' bytes. */
export function ipTableOf(countryBytes: Buffer, asnBytes: Buffer): IpTableData {
  const country = decodeIpData(countryBytes);
  const asn = decodeIpData(asnBytes);
  if (country.header.kind !== 'country' || asn.header.kind !== 'asn') {
    throw new Error('IP data files are swapped or of the wrong kind');
  }
  const c = country.arrays;
  const a = asn.arrays;
  return {
    dataVersion: `${country.header.dataVersion}+${asn.header.dataVersion}`,
    countryCodes: country.header.countryCodes ?? [''],
    v4Country: { starts: u32(c, 'v4Starts'), values: u16(c, 'v4Values') },
    v6Country: { high: u32(c, 'v6High'), low: u32(c, 'v6Low'), values: u16(c, 'v6Values') },
    v4Asn: { starts: u32(a, 'v4Starts'), values: u32(a, 'v4Values') },
    v6Asn: { high: u32(a, 'v6High'), low: u32(a, 'v6Low'), values: u32(a, 'v6Values') },
    hostingAsns: u32(a, 'hostingAsns'),
    mobileAsns: u32(a, 'mobileAsns'),
  };
}

export function loadIpTable(dir: string = shippedIpDataDir): IpTableData {
  const read = (name: string): Buffer => gunzipSync(readFileSync(join(dir, name)));
  return ipTableOf(read('country.bin.gz'), read('asn.bin.gz'));
}

/** Reads the shipped (or given) tables once; the answer is reused for every decision. */
export function loadIpLookup(dir?: string): IpLookup {
  return ipLookupOf(loadIpTable(dir));
}
