import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, type PipelineResult } from '../../src/demo/pipeline.js';
import { generate, TRAP_CASES, TYPO_CASES } from '../../src/generate/generate.js';
import { createLogger } from '../../src/log.js';
import { evaluateQuality } from '../../src/quality/quality.js';
import { useTestDatabase } from '../support/db.js';
import { linkDriver, person } from '../support/gap.js';

const db = await useTestDatabase();
const dir = mkdtempSync(path.join(os.tmpdir(), 'idgap-quality-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('quality against truth.csv: typo cases and near-key traps', () => {
  let result: PipelineResult;
  let truth: Array<Record<string, string>>;
  const truthFile = path.join(dir, 'truth.csv');
  const evaluate = async () => {
    const client = await db.pool.connect();
    try {
      return (await evaluateQuality(client, truthFile)).near_keys;
    } finally {
      client.release();
    }
  };
  beforeAll(async () => {
    await generate({ leads: 600, drivers: 600, seed: 11, out: dir });
    truth = parse(readFileSync(truthFile), { columns: true }) as Array<Record<string, string>>;
    result = await runPipeline(db.pool, dir, createLogger('silent'), { batchSize: 200 });
  }, 120_000);

  it('reports one row per typo case and trap, and sums them', () => {
    const nk = result.quality.near_keys;
    expect(nk.by_case.map((r) => r.key).sort()).toEqual([...TYPO_CASES, ...TRAP_CASES].sort());
    const count = (cases: readonly string[]) => truth.filter((t) => cases.includes(t.planted_case!)).length;
    expect(nk.typo_leads).toBe(count(TYPO_CASES));
    expect(nk.trap_leads).toBe(count(TRAP_CASES));
    expect(nk.typo_left + nk.typo_links).toBe(nk.typo_leads);
    for (const r of nk.by_case) expect(r.outcomes.reduce((n, o) => n + o.leads, 0)).toBe(r.leads);
  });

  it('counts no bad link on the traps, links the exact-beats-near trap by R1, and no plate or phone typo lead, with the exact rules alone', async () => {
    const nk = result.quality.near_keys;
    expect(nk.trap_bad_links).toBe(0);
    const row = (key: string) => nk.by_case.find((r) => r.key === key)!;
    expect(row('trap_exact_beats_near').outcomes).toEqual([{ outcome: 'R1_PHONE_EXACT', leads: row('trap_exact_beats_near').leads, correct: row('trap_exact_beats_near').leads }]);
    if (!(await db.pool.query("select 1 from ops.match_rules where match_rule like 'R4%'")).rowCount) {
      for (const key of ['typo_plate_substitution', 'typo_plate_lookalike', 'typo_plate_transposition', 'typo_phone_digit', 'typo_phone_swap']) {
        expect(row(key).links, key).toBe(0);
        expect(row(key).outcomes.map((o) => o.outcome), key).toEqual(['none: NO_CANDIDATES']);
      }
      expect(row('typo_name_plate_exact').outcomes.map((o) => o.outcome)).toEqual(['none: WEAK_MATCH_ONLY']);
    }
  });

  /*
   * The next two tests write rows (evaluateQuality commits its own transaction) and compare with a measure taken
   * before; they set the state they need whatever the engine did (with near keys, typo leads are linked).
   */
  const unlink = (leadId: string) =>
    db.pool.query("delete from canon.identity_links where source_table = 'module_ct_cabinet_leads' and source_pk = $1", [leadId]);
  const personOf = async (driverId: string): Promise<string> => {
    const { rows } = await db.pool.query<{ person_key: string }>(
      "select person_key from canon.identity_links where source_table = 'drivers' and source_pk = $1", [driverId]);
    if (rows[0]) return rows[0].person_key;
    const personKey = await person(db.pool);
    await linkDriver(db.pool, driverId, personKey);
    return personKey;
  };
  /* As a recovery run writes a lead's link. */
  const linkByRun = (leadId: string, personKey: string) =>
    db.pool.query(
      `insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level, run_id)
       values ($1, 'module_ct_cabinet_leads', $2, 'R1_PHONE_EXACT', 95, 'HIGH', $3)`,
      [personKey, leadId, result.recovery.run_id],
    );

  it('counts a link on a trap that must not link as bad, and a typo lead linked to its true driver as linked', async () => {
    const trap = truth.find((t) => t.planted_case === 'trap_near_plate_other_name')!;
    const typo = truth.find((t) => t.planted_case === 'typo_plate_substitution')!;
    await unlink(typo.lead_id!);
    const before = await evaluate();
    const personKey = await personOf(typo.driver_id!);
    await linkByRun(trap.lead_id!, personKey);
    await linkByRun(typo.lead_id!, personKey);
    const after = await evaluate();
    expect(after.trap_bad_links).toBe(before.trap_bad_links + 1);
    expect(after.typo_correct_links).toBe(before.typo_correct_links + 1);
    expect(after.typo_left).toBe(before.typo_left - 1);
    expect(after.wrong_links).toEqual([{ lead_id: trap.lead_id, planted_case: 'trap_near_plate_other_name', true_driver: null, link_rule: 'R1_PHONE_EXACT', linked_drivers: typo.driver_id }]);
  });

  it('reads candidate 1 of a typo lead left from the review queue (or its store while the view does not exist)', async () => {
    const left = truth.filter((t) => t.planted_case === 'typo_phone_digit');
    for (const t of left) await unlink(t.lead_id!);
    await db.pool.query('delete from ops.lead_candidates where lead_id = any($1)', [left.map((t) => t.lead_id)]);
    const before = await evaluate();
    const view = (await db.pool.query<{ v: string | null }>("select to_regclass('ops.v_identity_review_queue')::text as v")).rows[0]!.v;
    expect(before.review_source).toBe(view ? 'ops.v_identity_review_queue' : 'ops.lead_candidates');
    /* The first lead's candidate 1 is its true driver; the second's is another driver, its true one ranked 2. */
    await db.pool.query(
      `insert into ops.lead_candidates (lead_id, candidate_rank, driver_id, match_rule, score, queue_reason)
       values ($1, 1, $2, 'R1_PHONE_EXACT', 60, 'REVIEW_BAND'), ($3, 1, $2, 'R1_PHONE_EXACT', 60, 'REVIEW_BAND'), ($3, 2, $4, 'R1_PHONE_EXACT', 50, 'REVIEW_BAND')`,
      [left[0]!.lead_id, left[0]!.driver_id, left[1]!.lead_id, left[1]!.driver_id],
    );
    const after = await evaluate();
    const row = after.by_case.find((r) => r.key === 'typo_phone_digit')!;
    expect(row.left).toBe(left.length);
    expect(row.left_with_candidate).toBe(2);
    expect(row.left_candidate1_true).toBe(1);
    expect(after.typo_left_candidate1_true).toBe(before.typo_left_candidate1_true + 1);
    expect(after.typo_left_candidate1_share).toBeCloseTo(after.typo_left_candidate1_true / after.typo_left, 5);
  });
});
