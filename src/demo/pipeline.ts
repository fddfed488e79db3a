import path from 'node:path';
import pg from 'pg';
import type { Log } from '../log.js';
import { importCsv, type ImportSummary } from '../import/import.js';
import { loadPlantedLinks } from '../generate/links.js';
import { recoveryParamsSchema, refreshDriversIndex, runRecovery, type RecoveryHooks, type RecoveryResult, type RefreshResult } from '../recovery.js';
import { poolClient, withRun } from '../runs.js';
import { refreshParamsSchema, snapshotParamsSchema } from '../payloads.js';
import { evaluateQuality, invariantViolations, type Quality } from '../quality/quality.js';

export interface GapCounts {
  total: number;
  unresolved: number;
  no_identity: number;
  no_origin: number;
  inconsistent_origin: number;
  pct_unresolved: number;
}

export interface PipelineResult {
  imports: Record<'leads' | 'drivers' | 'activity', ImportSummary>;
  planted: { persons: number; links: number; origins: number };
  index: RefreshResult;
  recovery: RecoveryResult & { run_id: number };
  gap_before: GapCounts;
  gap_after: GapCounts;
  quality: Quality;
  invariants: Record<string, number>;
  timings_ms: Record<string, number>;
}

async function gapCounts(pool: pg.Pool): Promise<GapCounts> {
  const { rows } = await pool.query<GapCounts>(`
    select totals.total_leads as total, totals.unresolved, totals.no_identity, totals.no_origin, totals.inconsistent_origin,
           totals.pct_unresolved::float8 as pct_unresolved
    from ops.v_identity_gap_totals as totals`);
  return rows[0]!;
}

/**
 * The whole system on a generated data set in `dir`: import the three CSVs, load
 * the planted links, refresh the drivers index, run one recovery and a snapshot
 * (each recorded in the run ledger, trigger 'cli'), then measure against
 * truth.csv. Shared by `idgap demo` and bench/quality.ts.
 */
export async function runPipeline(pool: pg.Pool, dir: string, log: Log, opts: { batchSize?: number; onBatch?: RecoveryHooks['onBatch'] } = {}): Promise<PipelineResult> {
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Date.now() - t;
    }
  };
  const imports = {
    leads: await timed('import_leads', () => importCsv(pool, 'leads', path.join(dir, 'leads.csv'), log)),
    drivers: await timed('import_drivers', () => importCsv(pool, 'drivers', path.join(dir, 'drivers.csv'), log)),
    activity: await timed('import_activity', () => importCsv(pool, 'activity', path.join(dir, 'activity.csv'), log)),
  };
  const planted = await timed('planted_links', async () => {
    const client = await pool.connect();
    try {
      return await loadPlantedLinks(client, dir);
    } finally {
      client.release();
    }
  });
  const gapBefore = await gapCounts(pool);
  let index: RefreshResult | undefined;
  await timed('refresh_index', () =>
    withRun(poolClient(pool), { task: 'refresh_drivers_index', schema: refreshParamsSchema, payload: {}, trigger: 'cli', log }, async (_p, { client }) => {
      index = await refreshDriversIndex(client);
      return { stats: { ...index } };
    }),
  );
  let recovery: RecoveryResult | undefined;
  const payload = opts.batchSize ? { batch_size: opts.batchSize } : {};
  const run = await timed('recovery', () =>
    withRun(poolClient(pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload, trigger: 'cli', log }, async (params, { client, runId, log: runLog }) => {
      recovery = await runRecovery(client, runId, params, runLog, { secondConnection: poolClient(pool), onBatch: opts.onBatch });
      return { stats: { candidates: recovery.candidates, batches: recovery.batches, errors: recovery.errors } };
    }),
  );
  await timed('snapshot', () =>
    withRun(poolClient(pool), { task: 'snapshot_identity_gap', schema: snapshotParamsSchema, payload: {}, trigger: 'cli', log }, async (_p, { client }) => {
      await client.query('select ops.snapshot_identity_gap()');
    }),
  );
  const gapAfter = await gapCounts(pool);
  const client = await pool.connect();
  try {
    const quality = await timed('quality', () => evaluateQuality(client, path.join(dir, 'truth.csv')));
    const invariants = await invariantViolations(client);
    return {
      imports,
      planted,
      index: index!,
      recovery: { ...recovery!, run_id: run.runId },
      gap_before: gapBefore,
      gap_after: gapAfter,
      quality,
      invariants,
      timings_ms: timings,
    };
  } finally {
    client.release();
  }
}
