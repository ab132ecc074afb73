import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { derivedIds } from '../../src/core/ids.ts';
import { createLogger } from '../../src/logger.ts';
import { createService, type Service } from '../../src/main.ts';
import { freshStorage, type Backend } from './backends.ts';

export interface TestService {
  service: Service;
  clock: ManualClock;
  key: string;
  /** Log lines the service wrote (JSON), to check what is and is not logged. */
  logs: string[];
  config: Config;
  /** Sends a request with the API key, through Fastify's in-process injection. */
  request(
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** A whole service on a fresh database, driven in process. The clock starts at 2026-11-25T09:00Z. */
export async function startTestService(
  backend: Backend,
  env: Record<string, string> = {},
): Promise<TestService> {
  const clock = new ManualClock(Date.parse('2026-11-25T09:00:00Z'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const config = loadConfig({ BULWARK_LOG_LEVEL: 'info', ...env }, { port: 0 });
  const storage = await freshStorage(backend);
  const service = await createService(config, {
    clock,
    ids: derivedIds(),
    logger: createLogger(config.logLevel, sink),
    processMetrics: false,
    storage,
  });
  const { key } = await service.apiKeys.create('test');
  return {
    service,
    clock,
    key,
    logs,
    config,
    async request(method, url, body, headers = {}) {
      const response = await service.app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      let parsed: unknown = response.body;
      try {
        parsed = JSON.parse(response.body);
      } catch {
        // Not JSON (metrics): keep the text.
      }
      return { status: response.statusCode, body: parsed, headers: response.headers };
    },
    close: () => service.stop(),
  };
}
