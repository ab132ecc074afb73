/**
 * Impossible travel at country resolution: the great-circle distance between the countries of two
 * consecutive sign-ins over the time between them. Country positions are approximate population
 * centres (degrees, rounded; common geographic knowledge, no third-party data), so short jumps
 * (`distanceKmMin`) are not judged. Mobile carriers and hosting/VPN networks make addresses jump
 * without anyone moving, so a jump involving one is reported as such and weighs less.
 */
const positions: Record<string, readonly [number, number]> = {
  AE: [24, 54],
  AR: [-34, -61],
  AT: [48, 15],
  AU: [-33, 149],
  BD: [24, 90],
  BE: [51, 4],
  BG: [43, 25],
  BR: [-20, -46],
  BY: [54, 28],
  CA: [45, -77],
  CH: [47, 8],
  CL: [-34, -71],
  CN: [33, 114],
  CO: [5, -74],
  CZ: [50, 15],
  DE: [51, 10],
  DK: [56, 11],
  DZ: [36, 3],
  EE: [59, 25],
  EG: [30, 31],
  ES: [40, -4],
  FI: [61, 25],
  FR: [47, 2],
  GB: [52, -1],
  GR: [38, 23],
  HK: [22, 114],
  HR: [45, 16],
  HU: [47, 19],
  ID: [-6, 107],
  IE: [53, -7],
  IL: [32, 35],
  IN: [23, 79],
  IQ: [33, 44],
  IR: [34, 52],
  IS: [64, -22],
  IT: [42, 12],
  JP: [36, 138],
  KE: [-1, 37],
  KH: [12, 105],
  KR: [37, 127],
  KZ: [48, 68],
  LK: [7, 80],
  LT: [55, 24],
  LU: [50, 6],
  LV: [57, 24],
  MA: [33, -7],
  MM: [19, 96],
  MN: [48, 107],
  MO: [22, 114],
  MX: [20, -99],
  MY: [3, 102],
  NG: [8, 6],
  NL: [52, 5],
  NO: [60, 10],
  NP: [28, 84],
  NZ: [-40, 175],
  PE: [-12, -77],
  PH: [14, 121],
  PK: [30, 71],
  PL: [52, 19],
  PT: [39, -9],
  QA: [25, 51],
  RO: [45, 25],
  RS: [44, 21],
  RU: [55, 40],
  SA: [24, 45],
  SE: [59, 16],
  SG: [1, 104],
  SI: [46, 15],
  SK: [48, 19],
  TH: [14, 101],
  TR: [40, 32],
  TW: [24, 121],
  UA: [49, 31],
  US: [38, -92],
  UY: [-34, -56],
  UZ: [41, 66],
  VE: [10, -67],
  VN: [16, 106],
  ZA: [-27, 28],
  CY: [35, 33],
  JO: [31, 36],
  KW: [29, 48],
  LB: [34, 36],
  OM: [23, 58],
  BH: [26, 50],
  GH: [7, -1],
  ET: [9, 39],
  TZ: [-6, 37],
  UG: [1, 32],
  TN: [35, 10],
  EC: [-1, -78],
  BO: [-17, -65],
  PY: [-25, -57],
  CR: [10, -84],
  PA: [9, -80],
  GT: [15, -90],
  DO: [19, -70],
  CU: [22, -79],
  PR: [18, -66],
  JM: [18, -77],
  MD: [47, 29],
  GE: [42, 44],
  AM: [40, 45],
  AZ: [40, 48],
  BA: [44, 18],
  MK: [42, 22],
  AL: [41, 20],
  ME: [43, 19],
  MT: [36, 14],
  BN: [5, 115],
  LA: [18, 103],
  AF: [34, 67],
  KG: [42, 75],
  TJ: [39, 69],
  TM: [38, 59],
  FJ: [-18, 178],
  PG: [-6, 147],
  GU: [13, 145],
  NC: [-22, 166],
};

export function countryPosition(country: string): readonly [number, number] | undefined {
  return positions[country];
}

const earthRadiusKm = 6371;

export function distanceKm(from: readonly [number, number], to: readonly [number, number]): number {
  const rad = Math.PI / 180;
  const dLat = (to[0] - from[0]) * rad;
  const dLon = (to[1] - from[1]) * rad;
  const a =
    Math.sin(dLat / 2) ** 2 + Math.cos(from[0] * rad) * Math.cos(to[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * earthRadiusKm * Math.asin(Math.min(1, Math.sqrt(a)));
}

export interface TravelPoint {
  readonly atMs: number;
  readonly country?: string;
  /** 'mobile' and 'hosting' networks jump without travel. */
  readonly kind?: string;
}

export type TravelVerdict =
  { kind: 'plausible' } | { kind: 'impossible'; distanceKm: number; speedKmPerHour: number; jumpy: boolean };

export function judgeTravel(
  previous: TravelPoint,
  current: TravelPoint,
  limits: { readonly speedKmPerHourMax: number; readonly distanceKmMin: number },
): TravelVerdict {
  if (previous.country === undefined || current.country === undefined) return { kind: 'plausible' };
  if (previous.country === current.country) return { kind: 'plausible' };
  const from = countryPosition(previous.country);
  const to = countryPosition(current.country);
  if (from === undefined || to === undefined) return { kind: 'plausible' };
  const km = distanceKm(from, to);
  if (km < limits.distanceKmMin) return { kind: 'plausible' };
  // Out-of-order events (clock skew) count as simultaneous: the distance still had to be covered.
  const hours = Math.max(Math.abs(current.atMs - previous.atMs), 60_000) / 3_600_000;
  const speed = km / hours;
  if (speed <= limits.speedKmPerHourMax) return { kind: 'plausible' };
  const jumpy =
    previous.kind === 'mobile' ||
    previous.kind === 'hosting' ||
    current.kind === 'mobile' ||
    current.kind === 'hosting';
  return { kind: 'impossible', distanceKm: Math.round(km), speedKmPerHour: Math.round(speed), jumpy };
}
