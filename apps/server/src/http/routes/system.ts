import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.ts';
import { sendError } from '../app.ts';
import { buildOpenApiDocument } from '../openapi.ts';

export function registerSystemRoutes(app: FastifyInstance, deps: AppDeps): void {
  const openApi = JSON.stringify(buildOpenApiDocument(deps.version));

  app.get('/healthz', () => Promise.resolve({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (!deps.isReady()) return sendError(reply, 'UNAVAILABLE', 'starting or draining');
    try {
      await deps.checkStorage();
    } catch {
      return sendError(reply, 'UNAVAILABLE', 'storage is not answering');
    }
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.header('content-type', deps.metrics.registry.contentType).send(text);
  });

  app.get('/v1/openapi.json', async (_request, reply) =>
    reply.header('content-type', 'application/json').send(openApi),
  );
}
