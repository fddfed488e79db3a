import type pg from 'pg';
import type { TestDatabase } from './db.js';

export interface BatchContext {
  client: pg.PoolClient;
  runId: number;
  from: number;
  to: number;
  /** Rows of a batch temporary table (pg_temp.batch_*), ordered by its first column. */
  rows: <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;
}

/**
 * A planned run of every due lead in one batch, inside a transaction that is rolled back: `fn` calls the batch's
 * steps one by one (ops.batch_leads first), as ops.process_identity_batch does, and reads the temporary tables.
 */
export async function withPlannedBatch(db: TestDatabase, fn: (ctx: BatchContext) => Promise<void>): Promise<void> {
  const client = await db.pool.connect();
  let runId = 0;
  try {
    runId = Number((await client.query(`select ops.start_run('retry_identity_matching', 'cli', '{}') as id`)).rows[0].id);
    await client.query('select pg_advisory_lock(ops.recovery_lock_key())');
    await client.query('select ops.plan_recovery($1, null, null, null, null, null, 100000)', [runId]);
    const { rows } = await client.query('select coalesce(min(seq), 1)::int as f, coalesce(max(seq), 0)::int as t from ops.recovery_queue where run_id = $1', [runId]);
    await client.query('begin');
    await fn({ client, runId, from: rows[0].f, to: rows[0].t, rows: async (sql, params) => (await client.query(sql, params)).rows });
  } finally {
    await client.query('rollback').catch(() => undefined);
    await client.query('select pg_advisory_unlock(ops.recovery_lock_key())').catch(() => undefined);
    if (runId) await client.query(`select ops.finish_run($1, 'succeeded')`, [runId]).catch(() => undefined);
    client.release();
  }
}

/** Steps 1 to 4 (leads, candidates, decisions) with the settings' values. */
export async function decide(ctx: BatchContext): Promise<void> {
  await ctx.client.query(`select ops.batch_leads($1, $2, $3, ops.setting_text('default_country_code'))`, [ctx.runId, ctx.from, ctx.to]);
  await ctx.client.query(`select ops.batch_find_candidates(ops.setting_text('target_park_id'), ops.setting_integer('plate_hire_window_days_before'), ops.setting_integer('plate_hire_window_days_after'))`);
  await ctx.client.query(`select ops.batch_decide(ops.setting_numeric('name_similarity_threshold'), ops.setting_numeric('ambiguity_margin'))`);
}
