/**
 * The compact on-disk form of the IP tables shipped in `apps/server/data/ip/`: gzip of
 *   u32le headerBytes · header JSON · arrays (each starts on a 4-byte boundary, little-endian)
 * The header names every array with its element type and length, so the reader needs no
 * knowledge of a particular file beyond the names it asks for.
 */
export interface IpDataHeader {
  format: 'bulwark-ip-1';
  kind: 'country' | 'asn';
  /** Where the data came from and when it was generated (SOURCE.md says more). */
  dataVersion: string;
  countryCodes?: string[];
  arrays: { name: string; type: 'u8' | 'u16' | 'u32'; length: number }[];
}

export type IpDataArrays = Record<string, Uint8Array | Uint16Array | Uint32Array>;

const pad4 = (n: number): number => (n + 3) & ~3;

export function encodeIpData(header: Omit<IpDataHeader, 'arrays' | 'format'>, arrays: IpDataArrays): Buffer {
  const full: IpDataHeader = {
    format: 'bulwark-ip-1',
    ...header,
    arrays: Object.entries(arrays).map(([name, array]) => ({
      name,
      type: array instanceof Uint8Array ? 'u8' : array instanceof Uint16Array ? 'u16' : 'u32',
      length: array.length,
    })),
  };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const parts: Buffer[] = [];
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  parts.push(length, json, Buffer.alloc(pad4(4 + json.length) - 4 - json.length));
  for (const array of Object.values(arrays)) {
    const bytes = Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    // Typed arrays are in platform order; every supported platform is little-endian.
    parts.push(Buffer.from(bytes), Buffer.alloc(pad4(bytes.length) - bytes.length));
  }
  return Buffer.concat(parts);
}

export function decodeIpData(bytes: Buffer): { header: IpDataHeader; arrays: IpDataArrays } {
  if (bytes.length < 4) throw new Error('IP data file is truncated');
  const headerBytes = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.subarray(4, 4 + headerBytes).toString('utf8')) as IpDataHeader;
  const format = (header as { format?: unknown }).format;
  if (format !== 'bulwark-ip-1') throw new Error(`unknown IP data format ${String(format)}`);
  let offset = pad4(4 + headerBytes);
  const arrays: IpDataArrays = {};
  for (const entry of header.arrays) {
    const size = entry.length * (entry.type === 'u8' ? 1 : entry.type === 'u16' ? 2 : 4);
    if (offset + size > bytes.length) throw new Error(`IP data file is truncated in "${entry.name}"`);
    // Copied into fresh, aligned memory: the gunzipped buffer may not be aligned for Uint32.
    const copy = new Uint8Array(size);
    copy.set(bytes.subarray(offset, offset + size));
    arrays[entry.name] =
      entry.type === 'u8'
        ? copy
        : entry.type === 'u16'
          ? new Uint16Array(copy.buffer)
          : new Uint32Array(copy.buffer);
    offset += pad4(size);
  }
  return { header, arrays };
}
