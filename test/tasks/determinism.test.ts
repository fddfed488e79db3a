/**
 * SPEC 9 / issue 15 item 2: the final state of a recovery — links by record, persons by their set of drivers,
 * origins, job rows' status, reason and rule — is the same for batch sizes 1, 7, 500 and 5,000, for one lane and
 * two, and for a split run shared by three workers. A property test over generated worlds that hold earlier links
 * (leads and drivers already linked, persons with several drivers), origins to repair (missing, pointing to a lead
 * not linked, a lower tag, manual), shared cars (several drivers on a plate, hire dates in and out of the window)
 * and shared phones.
 */
import fc from 'fast-check';
import { run } from 'graphile-worker';
import { describe, expect, it } from 'vitest';
import { graphileLogger } from '../../src/log.js';
import { recoveryParamsSchema, runRecovery } from '../../src/recovery.js';
import { poolClient, withRun } from '../../src/runs.js';
import { taskList } from '../../src/worker.js';
import { useTestDatabase } from '../support/db.js';
import { refreshIndex } from '../support/fixtures.js';
import { silentLog } from '../support/log.js';

const db = await useTestDatabase();

const PHONES = ['987300001', '+51 987 300 002', '(0051) 987300003', '987-300-004'];
const DRIVER_PHONES = ['51987300001', '51987300002', '51987300003', '51987300004'];
const PLATES = ['ABC-101', 'abc 102', 'ABC103'];
const DRIVER_NAMES = ['PAZ ORTIZ EVA', 'RUIZ SOTO LUIS', 'LEON VEGA ANA', 'PAZ ORTIZ EVELYN', 'QUISPE MAMANI ROSA'];
const LEAD_NAMES: [string, string][] = [['Eva', 'Paz Ortiz'], ['Luis', 'Ruiz'], ['Ana', 'León Vega'], ['Rosa', 'Quispe'], ['Juan', 'Pérez']];
const PERSONS = ['0190f0a0-0000-7000-8000-00000000d001', '0190f0a0-0000-7000-8000-00000000d002', '0190f0a0-0000-7000-8000-00000000d003'];

const driverArb = fc.record({
  phone: fc.option(fc.integer({ min: 0, max: DRIVER_PHONES.length - 1 }), { nil: null }),
  plate: fc.option(fc.integer({ min: 0, max: PLATES.length - 1 }), { nil: null }),
  name: fc.integer({ min: 0, max: DRIVER_NAMES.length - 1 }),
  hire: fc.option(fc.constantFrom(-200, -60, 0, 20, 100), { nil: null }),
  park: fc.constantFrom('park-1', 'park-2'),
  person: fc.option(fc.integer({ min: 0, max: PERSONS.length - 1 }), { nil: null, freq: 3 }),
});
const leadArb = fc.record({
  phone: fc.option(fc.integer({ min: 0, max: PHONES.length - 1 }), { nil: null }),
  plate: fc.option(fc.integer({ min: 0, max: PLATES.length - 1 }), { nil: null }),
  name: fc.integer({ min: 0, max: LEAD_NAMES.length - 1 }),
  day: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null, freq: 6 }),
  person: fc.option(fc.integer({ min: 0, max: PERSONS.length - 1 }), { nil: null, freq: 3 }),
});
const originArb = fc.constantFrom('none', 'first', 'last', 'migration', 'manual_other');
const worldArb = fc.record({
  drivers: fc.array(driverArb, { minLength: 2, maxLength: 8 }),
  leads: fc.array(leadArb, { minLength: 3, maxLength: 14 }),
  origins: fc.array(originArb, { minLength: PERSONS.length, maxLength: PERSONS.length }),
});
type WorldValue = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

/** Writes the world: raw rows, earlier links and origins, and the drivers index. */
async function seed(world: WorldValue): Promise<void> {
  // Tiny tables: deleting is cheaper than resetData's truncates (a world is seeded 7 times).
  await db.pool.query(`delete from ops.identity_link_findings; delete from ops.identity_matching_jobs; delete from ops.recovery_queue; delete from ops.job_runs;
    delete from canon.identity_origin_history; delete from canon.identity_origin; delete from canon.identity_links; delete from canon.identity_registry;
    delete from canon.drivers_index; delete from canon.near_key_variants; delete from canon.near_keys; delete from ops.recovery_near_pairs;
    delete from ops.lead_candidates; delete from ops.lead_keys; delete from public.module_ct_cabinet_leads; delete from public.drivers;
    update canon.drivers_index_state set last_refreshed_at = null, content_changed_at = null, row_count = 0`);
  const drivers = world.drivers.map((d, i) => ({
    driver_id: `d${i + 1}`, park_id: d.park, phone: d.phone === null ? null : DRIVER_PHONES[d.phone], car_number: d.plate === null ? null : PLATES[d.plate],
    full_name: DRIVER_NAMES[d.name], hire_date: d.hire === null ? null : new Date(Date.UTC(2026, 10, 1) + d.hire * 86_400_000).toISOString().slice(0, 10),
  }));
  await db.pool.query(`insert into public.drivers (driver_id, park_id, phone, car_number, full_name, hire_date)
    select r.driver_id, r.park_id, r.phone, r.car_number, r.full_name, r.hire_date from json_to_recordset($1::json) as r (driver_id text, park_id text, phone text, car_number text, full_name text, hire_date date)`,
  [JSON.stringify(drivers)]);
  const leads = world.leads.map((l, i) => ({
    external_id: `lead${String(i + 1).padStart(2, '0')}`, park_phone: l.phone === null ? null : PHONES[l.phone], asset_plate_number: l.plate === null ? null : PLATES[l.plate],
    first_name: LEAD_NAMES[l.name]![0], last_name: LEAD_NAMES[l.name]![1],
    lead_created_at: l.day === null ? null : `2026-11-${String(l.day + 1).padStart(2, '0')} 10:00`,
  }));
  await db.pool.query(`insert into public.module_ct_cabinet_leads (external_id, park_phone, asset_plate_number, first_name, last_name, lead_created_at)
    select r.external_id, r.park_phone, r.asset_plate_number, r.first_name, r.last_name, r.lead_created_at from json_to_recordset($1::json) as r
      (external_id text, park_phone text, asset_plate_number text, first_name text, last_name text, lead_created_at timestamp)`, [JSON.stringify(leads)]);
  const links = [
    ...world.drivers.flatMap((d, i) => (d.person === null ? [] : [{ person_key: PERSONS[d.person]!, source_table: 'drivers', source_pk: `d${i + 1}` }])),
    ...world.leads.flatMap((l, i) => (l.person === null ? [] : [{ person_key: PERSONS[l.person]!, source_table: 'module_ct_cabinet_leads', source_pk: leads[i]!.external_id }])),
  ];
  const used = [...new Set(links.map((l) => l.person_key))];
  await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) select unnest($1::uuid[]), 'HIGH'`, [used]);
  await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
    select r.person_key, r.source_table, r.source_pk, 'MANUAL', 100, 'HIGH' from json_to_recordset($1::json) as r (person_key uuid, source_table text, source_pk text)`, [JSON.stringify(links)]);
  // Origins to repair: missing, on the person's first or last lead (inconsistent when it is not the earliest), a lower tag, or manual.
  const origins = used.flatMap((key) => {
    const kind = world.origins[PERSONS.indexOf(key)]!;
    const own = links.filter((l) => l.person_key === key && l.source_table === 'module_ct_cabinet_leads').map((l) => l.source_pk);
    if (kind === 'none') return [];
    if (kind === 'migration') return [{ person_key: key, origin_tag: 'migration', origin_source_id: 'm-1', decided_by: 'system' }];
    if (kind === 'manual_other') return [{ person_key: key, origin_tag: 'cabinet_lead', origin_source_id: leads[0]!.external_id, decided_by: 'manual' }];
    if (own.length === 0) return [];
    return [{ person_key: key, origin_tag: 'cabinet_lead', origin_source_id: kind === 'first' ? own[0] : own[own.length - 1], decided_by: 'system' }];
  });
  await db.pool.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id, decided_by)
    select r.person_key, r.origin_tag, r.origin_source_id, r.decided_by from json_to_recordset($1::json) as r (person_key uuid, origin_tag text, origin_source_id text, decided_by text)`,
  [JSON.stringify(origins)]);
  await refreshIndex(db.pool);
}

/** The final state, persons named by their set of drivers (a person made before the run keeps its key). */
async function finalState() {
  const { rows } = await db.pool.query(`
    with person_names as (
      select persons.person_key,
             case when persons.person_key = any ($1::uuid[]) then persons.person_key::text
                  else 'drivers:' || coalesce((select string_agg(links.source_pk, ',' order by links.source_pk) from canon.identity_links as links
                                               where links.person_key = persons.person_key and links.source_table = 'drivers'), '') end as name
      from canon.identity_registry as persons
    )
    select
      (select json_agg(json_build_object('record', links.source_table || ':' || links.source_pk, 'person', names.name, 'rule', links.match_rule, 'score', links.match_score)
                       order by links.source_table, links.source_pk)
         from canon.identity_links as links join person_names as names on names.person_key = links.person_key) as links,
      (select json_agg(names.name order by names.name) from person_names as names) as persons,
      (select json_agg(json_build_object('person', names.name, 'tag', origins.origin_tag, 'source', origins.origin_source_id, 'by', origins.decided_by) order by names.name)
         from canon.identity_origin as origins join person_names as names on names.person_key = origins.person_key) as origins,
      (select json_agg(json_build_object('lead', jobs.source_id, 'status', jobs.status, 'reason', jobs.fail_reason, 'rule', jobs.match_rule,
                                         'person', names.name) order by jobs.source_id)
         from ops.identity_matching_jobs as jobs left join person_names as names on names.person_key = jobs.matched_person_key) as jobs,
      /* The review store: the candidates each lead left for a person to decide, as ranked and scored. */
      (select json_agg(json_build_object('lead', candidates.lead_id, 'rank', candidates.candidate_rank, 'driver', candidates.driver_id,
                                         'rule', candidates.match_rule, 'score', candidates.score, 'reason', candidates.queue_reason)
                       order by candidates.lead_id, candidates.candidate_rank)
         from ops.lead_candidates as candidates) as review`, [PERSONS]);
  return rows[0];
}

async function recoverInProcess(batchSize: number, lanes: number): Promise<void> {
  await withRun(poolClient(db.pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: { batch_size: batchSize }, trigger: 'cli', log: silentLog() },
    async (params, { client, runId, log }) => {
      await runRecovery(client, runId, params, log, lanes > 1 ? { secondConnection: poolClient(db.pool), lanes } : {});
    });
}

/** A split run (one batch job per batch) taken by the three workers running beside the test. */
async function recoverSplit(batchSize: number): Promise<void> {
  await db.pool.query(`select graphile_worker.add_job('retry_identity_matching', json_build_object('batch_size', $1::int, 'split', true))`, [batchSize]);
  for (let i = 0; i < 600; i++) {
    const { rows } = await db.pool.query(`select state from ops.job_runs where task = 'retry_identity_matching' order by id desc limit 1`);
    if (rows[0] && rows[0].state !== 'running') {
      expect(rows[0].state).toBe('succeeded');
      // Batch jobs of the run still in flight end with nothing to do; wait for them so the next world starts clean.
      for (let j = 0; j < 200; j++) {
        const left = await db.pool.query(`select count(*)::int as n from graphile_worker.jobs where task_identifier in ('recover_identity_batch', 'retry_identity_matching') and locked_at is not null`);
        if (left.rows[0].n === 0) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the split run did not finish');
}

describe('determinism', () => {
  it('ends in the same state (links, persons, origins, job rows, review store) for batch sizes 1, 7, 500 and 5,000, one lane and two, and a split run on three workers', async () => {
    const logger = graphileLogger(silentLog());
    const runners = await Promise.all([0, 1, 2].map(() => run({ connectionString: db.url, taskList, concurrency: 1, noHandleSignals: true, pollInterval: 20, logger })));
    try {
      await fc.assert(
        fc.asyncProperty(worldArb, async (world) => {
          const states: Record<string, unknown> = {};
          for (const [name, go] of [
            ['batch 1', () => recoverInProcess(1, 1)],
            ['batch 7', () => recoverInProcess(7, 1)],
            ['batch 500', () => recoverInProcess(500, 1)],
            ['batch 5000', () => recoverInProcess(5000, 1)],
            ['batch 1, 2 lanes', () => recoverInProcess(1, 2)],
            ['batch 7, 2 lanes', () => recoverInProcess(7, 2)],
            ['split, batch 1, 3 workers', () => recoverSplit(1)],
          ] as const) {
            const t0 = Date.now();
            await seed(world);
            const t1 = Date.now();
            await go();
            const t2 = Date.now();
            states[name] = await finalState();
            if (process.env.IDGAP_DETERMINISM_TIMES) console.log(name, t1 - t0, t2 - t1, Date.now() - t2);
          }
          const reference = states['batch 1'];
          for (const [name, state] of Object.entries(states)) expect({ name, state }).toEqual({ name, state: reference });
        }),
        { numRuns: Number(process.env.IDGAP_DETERMINISM_RUNS ?? 5), seed: process.env.IDGAP_DETERMINISM_SEED ? Number(process.env.IDGAP_DETERMINISM_SEED) : undefined, endOnFailure: true },
      );
    } finally {
      await Promise.all(runners.map((r) => r.stop()));
    }
  }, 120_000);
});
