import { pino, type Logger } from 'pino';

/** Paths never written to logs, whatever a caller passes. */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.key',
  '*.databaseUrl',
  'secret',
  'databaseUrl',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    redact: { paths: redactedPaths, censor: '[redacted]' },
    base: { service: 'bulwark' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
