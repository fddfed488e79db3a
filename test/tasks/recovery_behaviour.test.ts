import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { runOnce } from 'graphile-worker';
import { useTestDatabase } from '../support/db.js';
import { insertDriver, insertLead, jobOf, lastRun, linkOf, refreshIndex, resetData, runJob } from '../support/fixtures.js';
import { expectInvariants } from '../support/invariants.js';
import { graphileLogger } from '../../src/log.js';
import { taskList } from '../../src/worker.js';
import { silentLog } from '../support/log.js';
import { recoveredState as bulkState, seedBulk as bulkSeed } from '../support/bulk.js';
import { recoveryParamsSchema, runRecovery } from '../../src/recovery.js';
import { poolClient, withRun } from '../../src/runs.js';
import { createPool } from '../../src/db.js';

const db = await useTestDatabase();
const recover = async (payload: Record<string, unknown> = {}) => {
  await runJob(db.url, db.pool, 'retry_identity_matching', payload);
  const run = await lastRun(db.pool, 'retry_identity_matching');
  expect(run.state).toBe('succeeded');
  return run;
};

const recoveredState = () => bulkState(db.pool);
const seedBulk = (n: number) => bulkSeed(db.pool, n);

beforeEach(async () => {
  await resetData(db.pool);
});

describe('retries and backoff', () => {
  it('retries a lead only after its backoff, fails it after max attempts, and reconsiders it when the drivers index changes', async () => {
    await db.pool.query(`update ops.settings set value = '3' where key = 'max_attempts'`);
    try {
      const lead = await insertLead(db.pool, { park_phone: '987123001', first_name: 'Ana' });
      await recover();
      const first = (await jobOf(db.pool, lead))!;
      expect(first).toMatchObject({ status: 'pending', fail_reason: 'NO_CANDIDATES', attempt_count: 1 });
      const backoffMinutes = (first.next_attempt_at!.getTime() - first.last_attempt_at!.getTime()) / 60000;
      expect(backoffMinutes).toBeCloseTo(60, 0);

      // Backed off: a run now does not touch it.
      const skippedRun = await recover();
      expect(skippedRun.processed).toBe(0);
      expect((await jobOf(db.pool, lead))!.attempt_count).toBe(1);

      // Backoff passed: retried, and the next backoff doubles.
      await db.pool.query(`update ops.identity_matching_jobs set next_attempt_at = now() - interval '1 second' where source_id = $1`, [lead]);
      await recover();
      const second = (await jobOf(db.pool, lead))!;
      expect(second.attempt_count).toBe(2);
      expect((second.next_attempt_at!.getTime() - second.last_attempt_at!.getTime()) / 60000).toBeCloseTo(120, 0);

      await db.pool.query(`update ops.identity_matching_jobs set next_attempt_at = now() - interval '1 second' where source_id = $1`, [lead]);
      await recover();
      expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'failed', attempt_count: 3, next_attempt_at: null });

      // Failed: not retried by time...
      expect((await recover()).processed).toBe(0);
      // ...nor by a refresh that changes nothing...
      await refreshIndex(db.pool);
      expect((await recover()).processed).toBe(0);
      // ...but new evidence in the drivers index re-opens it, and it links.
      await insertDriver(db.pool, { driver_id: 'late', phone: '51987123001', full_name: 'SOTO ANA' });
      await refreshIndex(db.pool);
      const rerun = await recover();
      expect(rerun.processed).toBe(1);
      expect((await linkOf(db.pool, lead))?.match_rule).toBe('R1_PHONE_EXACT');
      expect((await jobOf(db.pool, lead))!.status).toBe('matched');
    } finally {
      await db.pool.query(`update ops.settings set value = '5' where key = 'max_attempts'`);
    }
  });

  it('caps the backoff at retry_backoff_cap_minutes', async () => {
    const lead = await insertLead(db.pool, { park_phone: '987123002' });
    await db.pool.query(`insert into ops.identity_matching_jobs (source_id, status, attempt_count, next_attempt_at) values ($1, 'pending', 3, now() - interval '1 minute')`, [lead]);
    await recover();
    const job = (await jobOf(db.pool, lead))!;
    expect(job.attempt_count).toBe(4);
    expect((job.next_attempt_at!.getTime() - job.last_attempt_at!.getTime()) / 60000).toBeCloseTo(480, 0);
    await db.pool.query(`update ops.identity_matching_jobs set next_attempt_at = now() - interval '1 minute', attempt_count = 2 where source_id = $1`, [lead]);
    await db.pool.query(`update ops.settings set value = '90' where key = 'retry_backoff_cap_minutes'`);
    try {
      await recover();
      const capped = (await jobOf(db.pool, lead))!;
      expect((capped.next_attempt_at!.getTime() - capped.last_attempt_at!.getTime()) / 60000).toBeCloseTo(90, 0);
    } finally {
      await db.pool.query(`update ops.settings set value = '1440' where key = 'retry_backoff_cap_minutes'`);
    }
  });
});

describe('idempotence and filters', () => {
  it('a second run right after the first matches nothing new and changes no row', async () => {
    await seedBulk(600);
    const first = await recover({ batch_size: 250 });
    expect(first.matched).toBe(400);
    const before = await recoveredState();
    // Every row the second run inserts or updates would carry a transaction id at least this one.
    const firstXid = (await db.pool.query(`select (txid_current() % 4294967296)::bigint as x`)).rows[0].x as string;
    const second = await recover({ batch_size: 250 });
    expect(second).toMatchObject({ processed: 0, matched: 0 });
    expect(await recoveredState()).toEqual(before);
    const written = await db.pool.query(`
      select tbl, count(*)::int as n from (
        select 'identity_links' as tbl, xmin from canon.identity_links
        union all select 'identity_registry', xmin from canon.identity_registry
        union all select 'identity_origin', xmin from canon.identity_origin
        union all select 'identity_origin_history', xmin from canon.identity_origin_history
        union all select 'identity_matching_jobs', xmin from ops.identity_matching_jobs
      ) as rows_ where xmin::text::bigint > $1 group by tbl`, [firstXid]);
    expect(written.rows).toEqual([]);
    await expectInvariants(db.pool);
  });

  it('honours limit, risk_level and the date window, highest risk and oldest first', async () => {
    const old = await insertLead(db.pool, { park_phone: '987500001', lead_created_at: '2026-01-01 10:00' });
    const recent = await insertLead(db.pool, { park_phone: '987500002', lead_created_at: new Date(Date.now() - 3 * 3600_000).toISOString() });
    const middle = await insertLead(db.pool, { park_phone: '987500003', lead_created_at: '2026-06-01 10:00' });
    await recover({ limit: 1 });
    expect(await jobOf(db.pool, old)).toBeDefined();
    expect(await jobOf(db.pool, middle)).toBeUndefined();
    await recover({ risk_level: 'low' });
    expect(await jobOf(db.pool, recent)).toBeDefined();
    expect(await jobOf(db.pool, middle)).toBeUndefined();
    await recover({ date_from: '2026-05-01', date_to: '2026-07-01' });
    expect(await jobOf(db.pool, middle)).toBeDefined();
  });

  it('rejects an invalid payload with the validation message, without retrying it', async () => {
    await db.pool.query(`select graphile_worker.add_job('retry_identity_matching', '{"limit": 0, "risk_level": "extreme", "colour": 1}'::json)`);
    await runOnce({ connectionString: db.url, taskList, logger: graphileLogger(silentLog()) });
    const run = await lastRun(db.pool, 'retry_identity_matching');
    expect(run.state).toBe('rejected');
    expect(run.error).toMatch(/limit: must be at least 1/);
    expect(run.error).toMatch(/risk_level: must be high, medium or low/);
    expect(run.error).toMatch(/colour/);
    const jobs = await db.pool.query(`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'retry_identity_matching'`);
    expect(jobs.rows[0].n).toBe(0);
  });
});

describe('fault isolation', () => {
  it('isolates the one lead whose writes fail, records it as ERROR with the message, and commits every other lead', async () => {
    await seedBulk(90);
    const victim = (await db.pool.query(`select md5('lead-30') as id`)).rows[0].id as string;
    await db.pool.query(`
      create function public.test_refuse_link() returns trigger language plpgsql as $$
      begin
        if new.source_pk = '${victim}' then raise exception 'refused by test trigger for %', new.source_pk; end if;
        return new;
      end $$;
      create trigger test_refuse_link before insert on canon.identity_links for each row execute function public.test_refuse_link();`);
    try {
      const run = await recover({ batch_size: 40 });
      expect(run.matched).toBe(59);
      expect(run.processed).toBe(90);
      expect(run.stats.errors).toBe(1);
      expect(await linkOf(db.pool, victim)).toBeUndefined();
      expect(await jobOf(db.pool, victim)).toMatchObject({ status: 'pending', fail_reason: 'ERROR', attempt_count: 1 });
      expect((await jobOf(db.pool, victim))!.fail_detail).toContain('refused by test trigger');
      const linked = await db.pool.query(`select count(*)::int as n from canon.identity_links where source_table = 'module_ct_cabinet_leads'`);
      expect(linked.rows[0].n).toBe(59);
      await expectInvariants(db.pool);
    } finally {
      await db.pool.query(`drop trigger test_refuse_link on canon.identity_links; drop function public.test_refuse_link()`);
    }
  });
});

describe('error classes', () => {
  const lastRunState = async () => (await db.pool.query(`select state, processed, matched from ops.job_runs where task = 'retry_identity_matching' order by id desc limit 1`)).rows[0];
  /** A trigger on lead links that raises `errcode` for the victim lead, the first `times` times (a sequence: not rolled back). */
  const inject = async (victim: string, errcode: string, times = 1000) => {
    await db.pool.query(`create sequence public.test_raised;
      create function public.test_raise() returns trigger language plpgsql as $$
      begin
        if new.source_pk = '${victim}' and nextval('public.test_raised') <= ${times} then
          raise exception 'injected ${errcode} for %', new.source_pk using errcode = '${errcode}';
        end if;
        return new;
      end $$;
      create trigger test_raise before insert on canon.identity_links for each row execute function public.test_raise();`);
  };
  const removeInjection = () => db.pool.query(`drop trigger if exists test_raise on canon.identity_links; drop function if exists public.test_raise(); drop sequence if exists public.test_raised`);
  const raised = async () => Number((await db.pool.query('select case when is_called then last_value else 0 end as n from public.test_raised')).rows[0].n);
  const errorRows = async () => (await db.pool.query(`select count(*)::int as n from ops.identity_matching_jobs where fail_reason = 'ERROR'`)).rows[0].n as number;
  const victimOf = async () => (await db.pool.query(`select md5('lead-30') as id`)).rows[0].id as string;

  it('splits a batch down to the lead on a data error of class 22 and records only that lead ERROR', async () => {
    await seedBulk(90);
    const victim = await victimOf();
    await inject(victim, '22012');
    try {
      const run = await recover({ batch_size: 40 });
      expect(run).toMatchObject({ processed: 90, matched: 59 });
      expect(await jobOf(db.pool, victim)).toMatchObject({ fail_reason: 'ERROR', attempt_count: 1 });
      expect(await errorRows()).toBe(1);
    } finally {
      await removeInjection();
    }
  });

  it.each([['a deadlock', '40P01'], ['a serialization failure', '40001']])('retries a batch whole after %s, up to 3 times, marking no lead ERROR', async (_name, code) => {
    await seedBulk(90);
    const victim = await victimOf();
    await inject(victim, code, 2);
    try {
      const run = await recover({ batch_size: 40 });
      expect(run).toMatchObject({ processed: 90, matched: 60 });
      expect(await raised()).toBe(3); // raised twice, then the third try of the batch passed
      expect(await errorRows()).toBe(0);
      expect(await jobOf(db.pool, victim)).toMatchObject({ status: 'matched' });
    } finally {
      await removeInjection();
    }
  });

  it('fails the run after a 4th deadlock in a row, marking no lead ERROR', async () => {
    await seedBulk(30);
    const victim = await victimOf();
    await inject(victim, '40P01');
    try {
      await runJob(db.url, db.pool, 'retry_identity_matching', { batch_size: 40 });
      const run = await lastRun(db.pool, 'retry_identity_matching');
      expect(run.state).toBe('failed');
      expect(await raised()).toBe(4);
      expect(await errorRows()).toBe(0);
    } finally {
      await removeInjection();
    }
  });

  it.each([['a full disk (53100)', '53100'], ['a bug (42703)', '42703'], ['an internal error (XX000)', 'XX000'], ['a cancel (57014)', '57014']])(
    'fails the run with the message on %s, splitting nothing and marking no lead ERROR', async (_name, code) => {
      await seedBulk(90);
      const victim = await victimOf();
      await inject(victim, code);
      try {
        await runJob(db.url, db.pool, 'retry_identity_matching', { batch_size: 40 });
        const run = await lastRun(db.pool, 'retry_identity_matching');
        expect(run.state).toBe('failed');
        expect(run.error).toContain(`injected ${code} for ${victim}`);
        expect(await raised()).toBe(1); // not split, not retried
        expect(await errorRows()).toBe(0);
      } finally {
        await removeInjection();
      }
    });

  it('retries on a new connection the batch of a lane whose connection is lost, marking no lead ERROR', async () => {
    await seedBulk(60);
    // The lane's first link insert sleeps; the test terminates that backend meanwhile (a lost connection).
    await db.pool.query(`create sequence public.test_lane_slept;
      create function public.test_lane_sleep() returns trigger language plpgsql as $$
      begin
        if current_setting('application_name') = 'idgap-lane2' and nextval('public.test_lane_slept') = 1 then perform pg_sleep(30); end if;
        return new;
      end $$;
      create trigger test_lane_sleep before insert on canon.identity_links for each row execute function public.test_lane_sleep();`);
    const lanePool = createPool(db.url, 2, 'idgap-lane2');
    let terminated = 0;
    let done = false;
    const watcher = (async () => {
      while (!done && terminated === 0) {
        const { rows } = await db.pool.query(`select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = 'idgap-lane2' and wait_event = 'PgSleep'`);
        terminated += rows.filter((r) => r.ok).length;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const run = await withRun(poolClient(db.pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: { batch_size: 20 }, trigger: 'cli', log: silentLog() },
        async (params, { client, runId, log }) => {
          const result = await runRecovery(client, runId, params, log, { secondConnection: poolClient(lanePool), lanes: 2 });
          expect(result).toMatchObject({ processed: 60, matched: 40, errors: 0 });
        });
      expect(run.state).toBe('succeeded');
      expect(terminated).toBe(1);
      expect(await lastRunState()).toMatchObject({ state: 'succeeded', processed: 60, matched: 40 });
      expect((await db.pool.query(`select count(*)::int as n from ops.identity_matching_jobs where fail_reason = 'ERROR'`)).rows[0].n).toBe(0);
    } finally {
      done = true;
      await watcher;
      await lanePool.end();
      await db.pool.query(`drop trigger test_lane_sleep on canon.identity_links; drop function public.test_lane_sleep(); drop sequence public.test_lane_slept`);
    }
  });

  it('fails the run on a statement timeout, marking no lead ERROR', async () => {
    await seedBulk(90);
    const victim = await victimOf();
    await db.pool.query(`create function public.test_slow() returns trigger language plpgsql as $$
      begin
        if new.source_pk = '${victim}' then perform pg_sleep(2); end if;
        return new;
      end $$;
      create trigger test_slow before insert on canon.identity_links for each row execute function public.test_slow();`);
    // New connections (the worker's) time out a statement after 1 s.
    await db.pool.query(`alter database ${db.name} set statement_timeout = '1s'`);
    try {
      await runJob(db.url, db.pool, 'retry_identity_matching', { batch_size: 40 });
      const run = await lastRun(db.pool, 'retry_identity_matching');
      expect(run.state).toBe('failed');
      expect(run.error).toContain('statement timeout');
      expect(await errorRows()).toBe(0);
    } finally {
      await db.pool.query(`alter database ${db.name} reset statement_timeout`);
      await db.pool.query(`drop trigger test_slow on canon.identity_links; drop function public.test_slow()`);
    }
  });
});

describe('statistics', () => {
  it('a run analyses the link and origin tables when they have no statistics, and not again while they are fresh', async () => {
    await insertLead(db.pool, { park_phone: '987000701' });
    const client = await db.pool.connect();
    try {
      const analyses = async () => {
        await client.query('select pg_stat_clear_snapshot()');
        const { rows } = await client.query<{ relname: string; analyzed: boolean; n: string }>(
          `select relname, coalesce(last_analyze, last_autoanalyze) is not null as analyzed, analyze_count + autoanalyze_count as n
             from pg_stat_user_tables where relid in ('canon.identity_links'::regclass, 'canon.identity_origin'::regclass) order by relname`,
        );
        return rows.map((r) => ({ table: r.relname, analyzed: r.analyzed, n: Number(r.n) }));
      };
      const plan = async () => {
        const runId = Number((await client.query(`select ops.start_run('retry_identity_matching', 'cli', '{}') as id`)).rows[0].id);
        await client.query('select pg_stat_force_next_flush()');
        await client.query('select pg_advisory_lock(ops.recovery_lock_key())');
        await client.query('select ops.plan_recovery($1)', [runId]);
        await client.query('select pg_advisory_unlock(ops.recovery_lock_key())');
        await client.query(`select ops.finish_run($1, 'succeeded')`, [runId]);
      };
      // Statistics missing, whatever earlier tests of this database did (resetting the counters forgets the last analyse).
      await client.query(`select pg_stat_reset_single_table_counters(t) from unnest(array['canon.identity_links'::regclass, 'canon.identity_origin'::regclass]) as t`);
      const before = await analyses();
      expect(before.every((t) => !t.analyzed)).toBe(true);
      await plan();
      const after = await analyses();
      expect(after.map((t) => t.analyzed)).toEqual([true, true]);
      await plan();
      expect(await analyses()).toEqual(after);
    } finally {
      client.release();
    }
  });
});

describe('concurrency', () => {
  it('refuses to plan without the recovery lock, so no plan can run beside a run', async () => {
    await insertLead(db.pool, { park_phone: '987000601' });
    const runId = Number((await db.pool.query(`select ops.start_run('retry_identity_matching', 'cli', '{}') as id`)).rows[0].id);
    await expect(db.pool.query('select ops.plan_recovery($1)', [runId])).rejects.toMatchObject({ code: '55000' });
    await db.pool.query(`select ops.finish_run($1, 'failed')`, [runId]);
  });

  it('plans the near-key part on the second lane; without a second connection the run\'s own takes it; a failed part leaves no plan behind', async () => {
    /* Two leads with a plate one edit from a driver's, names agreeing: near pairs in both parts (prio 1 and 2). */
    await insertDriver(db.pool, { driver_id: 'dn1', car_number: 'QRS101', full_name: 'QUISPE MAMANI ROSA', hire_date: '2026-10-20' });
    await insertDriver(db.pool, { driver_id: 'dn2', car_number: 'QRS202', full_name: 'PAZ ORTIZ EVA', hire_date: '2026-10-20' });
    await refreshIndex(db.pool);
    const rosa = await insertLead(db.pool, { asset_plate_number: 'QRS107', first_name: 'Rosa', last_name: 'Quispe Mamani' });
    const eva = await insertLead(db.pool, { asset_plate_number: 'QRS207', first_name: 'Eva', last_name: 'Paz Ortiz' });
    const run = (hooks: Parameters<typeof runRecovery>[4]) =>
      withRun(poolClient(db.pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: {}, trigger: 'cli', log: silentLog() },
        async (params, { client, runId, log }) => {
          try {
            await runRecovery(client, runId, params, log, hooks);
          } finally {
            /* The run's session: no plan table left in it, whatever happened. */
            expect((await client.query(`select to_regclass('pg_temp.plan_due') is null as gone`)).rows[0].gone).toBe(true);
          }
        });
    /* A part that fails on the lent connection fails the run, and leaves neither the work list nor the plan's tables. */
    const failing = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => poolClient(db.pool)(async (c) => {
      await c.query(`set statement_timeout = '1ms'`);
      try {
        return await fn(c);
      } finally {
        await c.query('reset statement_timeout');
      }
    });
    await expect(run({ secondConnection: failing as never, lanes: 2 })).rejects.toMatchObject({ code: '57014' });
    expect((await db.pool.query('select count(*)::int as n from ops.recovery_near_leads')).rows[0].n).toBe(0);
    expect(await linkOf(db.pool, rosa)).toBeUndefined();
    /* No connection to lend: the run's own connection finds both parts, and links both leads. */
    const none = async () => { throw new Error('pool exhausted'); };
    await run({ secondConnection: none as never, lanes: 2 });
    expect((await linkOf(db.pool, rosa))?.match_rule).toBe('R4_PLATE_NEAR');
    expect((await linkOf(db.pool, eva))?.match_rule).toBe('R4_PLATE_NEAR');
  });

  it('an `idgap recover` run started while a worker run is in progress waits for it, then plans what is left', async () => {
    await insertDriver(db.pool, { driver_id: 'dw1', phone: '51987000611' });
    await insertDriver(db.pool, { driver_id: 'dw2', phone: '51987000612' });
    await refreshIndex(db.pool);
    const leads = [await insertLead(db.pool, { park_phone: '987000611' }), await insertLead(db.pool, { park_phone: '987000612' })];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let firstBatchDone!: () => void;
    const inFirstBatch = new Promise<void>((r) => (firstBatchDone = r));
    const events: string[] = [];
    const first = withRun(poolClient(db.pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: { batch_size: 1 }, trigger: 'sql', log: silentLog() },
      async (params, { client, runId, log }) => {
        await runRecovery(client, runId, params, log, {
          onBatch: async () => {
            firstBatchDone();
            await held;
          },
        });
        events.push('first finished');
      });
    await inFirstBatch;
    const second = withRun(poolClient(db.pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: {}, trigger: 'cli', log: silentLog() },
      async (params, { client, runId, log }) => {
        const result = await runRecovery(client, runId, params, log);
        events.push(`second planned ${result.candidates}`);
      });
    // The second run is open in the ledger but waits for the lock: it has planned nothing.
    await new Promise((r) => setTimeout(r, 500));
    const queued = await db.pool.query(`select count(*)::int as n from ops.recovery_queue as queue join ops.job_runs as runs on runs.id = queue.run_id where runs.trigger = 'cli'`);
    expect(queued.rows[0].n).toBe(0);
    expect(events).toEqual([]);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['first finished', 'second planned 0']);
    for (const lead of leads) expect((await jobOf(db.pool, lead))!.status).toBe('matched');
    const runs = await db.pool.query(`select state, processed from ops.job_runs where task = 'retry_identity_matching' order by id`);
    expect(runs.rows).toEqual([{ state: 'succeeded', processed: 2 }, { state: 'succeeded', processed: 0 }]);
  });

  it('two runs started together over the same 20,000 leads end in the state of one run, one link per lead', async () => {
    await seedBulk(20_000);
    // Reference: one run on a copy of the data, then reset the writes.
    await recover({ batch_size: 2000 });
    const single = await recoveredState();
    await db.pool.query(`truncate canon.identity_links, canon.identity_origin, canon.identity_origin_history, canon.identity_registry, ops.identity_matching_jobs, ops.job_runs, ops.recovery_queue cascade`);

    await db.pool.query(`select graphile_worker.add_job('retry_identity_matching', '{"batch_size": 2000}'::json)`);
    await db.pool.query(`select graphile_worker.add_job('retry_identity_matching', '{"batch_size": 2000}'::json)`);
    const log = graphileLogger(silentLog());
    // Two workers, as two processes would be: each takes one job and they run at the same time.
    await Promise.all([
      runOnce({ connectionString: db.url, taskList, logger: log }),
      runOnce({ connectionString: db.url, taskList, logger: log }),
    ]);
    const runs = await db.pool.query(`select state, processed, matched, skipped, started_at, finished_at from ops.job_runs where task = 'retry_identity_matching' order by id`);
    expect(runs.rows.map((r) => r.state)).toEqual(['succeeded', 'succeeded']);
    const [a, b] = runs.rows;
    expect(a.started_at < b.finished_at && b.started_at < a.finished_at).toBe(true);
    const total = runs.rows.reduce((s, r) => s + r.matched, 0);
    expect(total).toBe(13_333); // 6,666 by phone + 6,667 by plate; each lead matched by exactly one of the runs
    expect(single.lead_links).toHaveLength(13_333);
    expect(await recoveredState()).toEqual(single);
    const dup = await db.pool.query(`select count(*)::int as n from (select source_pk from canon.identity_links group by source_table, source_pk having count(*) > 1) d`);
    expect(dup.rows[0].n).toBe(0);
    await expectInvariants(db.pool);
    /* Three recoveries of 20,000 leads: 39 s alone on 2 cores, over 60 s with the rest of the suite beside it. */
  }, 180_000);
});
