import pg from 'pg';
import type { Check } from './report.ts';

const idsPerQuery = 20_000;

/** A database of its own on an existing PostgreSQL server, dropped after the phase. */
export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  readonly serverVersion: string;
  /** Rows in the event log: each accepted event must be there exactly once. */
  countEvents(): Promise<number>;
  /** How many of these event ids the event log holds. */
  countEventIds(eventIds: readonly string[]): Promise<number>;
  drop(): Promise<void>;
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

export async function createBenchDatabase(adminUrl: string, name: string): Promise<BenchDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name "${name}"`);
  const serverVersion = await withClient(adminUrl, async (client) => {
    await client.query(`CREATE DATABASE ${name}`);
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    serverVersion,
    countEvents: () =>
      withClient(url.toString(), async (client) => {
        const result = await client.query<{ count: string }>('SELECT count(*) AS count FROM events');
        return Number(result.rows[0]?.count ?? 0);
      }),
    countEventIds: (eventIds) =>
      withClient(url.toString(), async (client) => {
        let found = 0;
        for (let i = 0; i < eventIds.length; i += idsPerQuery) {
          const result = await client.query<{ count: string }>(
            'SELECT count(*) AS count FROM events WHERE event_id = ANY($1::text[])',
            [eventIds.slice(i, i + idsPerQuery)],
          );
          found += Number(result.rows[0]?.count ?? 0);
        }
        return found;
      }),
    async drop() {
      if (dropped) return;
      dropped = true;
      // FORCE: a server child killed mid-run may leave sessions behind.
      await withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/**
 * After the servers stopped: every event answered 2xx is in the log once, and the log holds
 * nothing but the decisions the servers counted (`who`: "the server", "the nodes").
 */
export async function logChecks(
  database: BenchDatabase,
  answeredIds: readonly string[],
  decisionsCounted: number | undefined,
  who: string,
): Promise<Check[]> {
  const logged = await database.countEvents();
  // event_id is unique in the table, so "found" counts each answered event once.
  const found = await database.countEventIds(answeredIds);
  return [
    {
      name: 'every event answered 2xx is in the event log',
      ok: found === answeredIds.length,
      detail: `${found} of ${answeredIds.length} answered events found in events`,
    },
    {
      name: `the event log holds exactly the decisions ${who} counted`,
      ok: logged === decisionsCounted,
      detail: `${logged} rows in events, ${decisionsCounted ?? 'no'} decisions counted`,
    },
  ];
}
