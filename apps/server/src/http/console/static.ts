import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Everything is served from this origin; nothing else may load, frame or receive a form. */
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

const notBuilt =
  'The console is not built. Run `npm run build -w @bulwark/console` (npm install does it) and reload.\n';

/**
 * Serves the built console (apps/console/dist) at /console and the security center page at
 * /security-center: static files read once and kept in memory (the build is small and fixed
 * while the server runs). Hashed assets are cached for a year; pages never.
 */
export function registerConsoleStatic(app: FastifyInstance, distDir: string): void {
  const root = normalize(distDir + sep);
  const cache = new Map<string, Buffer | undefined>();
  const load = async (relative: string): Promise<Buffer | undefined> => {
    const path = normalize(join(root, relative));
    if (!path.startsWith(root)) return undefined;
    if (cache.has(path)) return cache.get(path);
    let body: Buffer | undefined;
    try {
      body = await readFile(path);
    } catch {
      body = undefined;
    }
    // Missing pages are not cached: a build finishing after start is picked up.
    if (body !== undefined) cache.set(path, body);
    return body;
  };
  const send = (reply: FastifyReply, relative: string, body: Buffer): FastifyReply => {
    const isAsset = relative.startsWith('assets/');
    return reply
      .header('content-type', contentTypes[extname(relative)] ?? 'application/octet-stream')
      .header('cache-control', isAsset ? 'public, max-age=31536000, immutable' : 'no-store')
      .header('content-security-policy', contentSecurityPolicy)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(body);
  };
  const page = async (reply: FastifyReply, name: string): Promise<FastifyReply> => {
    const body = await load(name);
    if (body === undefined) {
      return reply.code(503).header('content-type', 'text/plain; charset=utf-8').send(notBuilt);
    }
    return send(reply, name, body);
  };

  app.get('/console', async (_request, reply) => reply.redirect('/console/'));
  app.get('/console/*', async (request, reply) => {
    const wildcard = (request.params as { '*'?: string })['*'] ?? '';
    // The router has decoded the path already.
    const relative = wildcard.split('?')[0] ?? '';
    if (relative.startsWith('api/')) {
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.url}` } });
    }
    if (relative.length > 0 && extname(relative) !== '') {
      const body = await load(relative);
      if (body === undefined) {
        return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no file ${relative}` } });
      }
      return send(reply, relative, body);
    }
    // Any other path is a page of the single-page console.
    return page(reply, 'index.html');
  });
  app.get('/security-center', async (_request, reply) => page(reply, 'security-center.html'));
}
