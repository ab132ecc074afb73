// The baseline: Node's bare `http` server answering every request with a fixed JSON body of the
// size of a decision. It reads each request body (as the real server must) but does nothing with
// it, so the ratio to it shows what deciding and logging an event costs over plain HTTP.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const body = JSON.stringify({
  eventId: 'baseline',
  accountId: 'baseline',
  decision: 'allow',
  score: 0,
  reasons: [],
});
const headers = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': Buffer.byteLength(body),
};

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, headers);
    response.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}\n`);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
