import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

/**
 * Precision and recall of the recovery against the generator's truth.csv,
 * computed in SQL from what the database holds after a run:
 *   links made      = lead links written by a recovery run (run_id set)
 *   correct link    = the lead's person is linked to the lead's true driver
 *   precision       = correct links / links made
 *   recall          = recoverable leads resolved to their true driver / recoverable leads
 * plus, per planted case and per rule, the same counts, and whether leads that
 * must not link ended with the expected reason code; and for the typo cases and
 * near-key traps (issue 16) the share linked, the traps' bad links and, for typo
 * leads left, whether the review queue's candidate 1 is the true driver.
 */
export interface QualityRow {
  key: string;
  leads: number;
  recoverable: number;
  recovered: number;
  links: number;
  wrong_links: number;
  expected_outcome: number;
  recall: number | null;
  precision: number | null;
}

export interface Quality {
  leads: number;
  recoverable: number;
  recovered: number;
  links_made: number;
  correct_links: number;
  wrong_links: number;
  /** Links made on leads planted as ambiguous (truth says MULTIPLE_CANDIDATES): must be 0. */
  links_on_ambiguous: number;
  /** Links made on leads truth says must not link, any reason: must be 0. */
  links_on_unrecoverable: number;
  /** Leads whose outcome is exactly the expected one (rule for links, reason code otherwise). */
  expected_outcome: number;
  precision: number | null;
  recall: number | null;
  by_case: QualityRow[];
  by_expected_rule: QualityRow[];
  by_link_rule: Array<{ rule: string; links: number; correct: number; precision: number | null }>;
  /** Up to 20 leads whose outcome differs from the truth (typo leads aside: see near_keys): lead ids and codes only (no personal data). */
  mismatches: Array<Record<string, string | boolean | null>>;
  near_keys: NearKeyQuality;
}

/** One typo case or trap: what the engine did with its leads. */
export interface NearKeyRow {
  key: string;
  leads: number;
  /** Links written by a recovery run. */
  links: number;
  /** Of those, to the true driver's person. */
  correct_links: number;
  /** Typo cases: correct links / leads. Traps: null. */
  linked_share: number | null;
  /** Leads left without any link. */
  left: number;
  /** Left leads with a candidate 1 in the review queue, and those whose candidate 1 is the true driver. */
  left_with_candidate: number;
  left_candidate1_true: number;
  /** Traps: links on a lead that must not link, or to another than the true driver (must be 0). */
  bad_links: number;
  /** How the leads ended: the link's rule, or 'none: ' and the job's reason, with counts and correct links. */
  outcomes: Array<{ outcome: string; leads: number; correct: number }>;
}

/**
 * Issue 16 measured on the planted cases named typo_* (a typing error; truth: the true driver) and trap_* (a near key
 * that must not link, or must not be confused with the true driver).
 */
export interface NearKeyQuality {
  typo_leads: number;
  typo_links: number;
  typo_correct_links: number;
  /** Typo leads linked to their true driver / typo leads (goal >= 0.90). */
  typo_linked_share: number | null;
  typo_left: number;
  typo_left_with_candidate: number;
  typo_left_candidate1_true: number;
  /** Of the typo leads left without a link, those whose candidate 1 in the review queue is the true driver (goal >= 0.95); null when no review queue exists or no typo lead is left. */
  typo_left_candidate1_share: number | null;
  /** Where candidate 1 was read: ops.v_identity_review_queue, else ops.lead_candidates; null when neither exists. */
  review_source: string | null;
  trap_leads: number;
  /** Links on traps that must not link, plus links on traps to another than the true driver (must be 0). */
  trap_bad_links: number;
  by_case: NearKeyRow[];
  /** Up to 20 typo or trap leads linked to another than their true driver: ids and codes only. */
  wrong_links: Array<Record<string, string | boolean | null>>;
}

const ratio = (a: number, b: number) => (b === 0 ? null : Number((a / b).toFixed(6)));

export async function evaluateQuality(client: pg.ClientBase, truthFile: string): Promise<Quality> {
  await client.query('begin');
  try {
    await client.query(`create temp table quality_truth (lead_id text primary key, driver_id text, planted_case text, recoverable boolean,
                        expected_rule text, expected_reason text) on commit drop`);
    await pipeline(createReadStream(truthFile), client.query(copyStreams.from('copy quality_truth from stdin with (format csv, header)')));
    await client.query('analyze quality_truth');
    await client.query(`
      create temp table quality_outcome on commit drop as
      select truth.*,
             links.person_key,
             links.match_rule as link_rule,
             links.run_id is not null as engine_link,
             coalesce(links.person_key is not null and exists (
               select 1 from canon.identity_links as driver_links
               where driver_links.source_table = 'drivers' and driver_links.person_key = links.person_key
                 and driver_links.source_pk = truth.driver_id), false) as correct,
             jobs.status as job_status,
             jobs.fail_reason,
             jobs.match_rule as job_rule
      from quality_truth as truth
      left join canon.identity_links as links
        on links.source_table = 'module_ct_cabinet_leads' and links.source_pk = truth.lead_id
      left join ops.identity_matching_jobs as jobs
        on jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = truth.lead_id`);
    await client.query(`
      create temp table quality_gap on commit drop as
      select analysis.lead_id, analysis.gap_reason
      from ops.v_identity_gap_analysis as analysis`);
    await client.query(`
      create temp table quality_scored on commit drop as
      select outcome.*,
             gap.gap_reason,
             (outcome.recoverable and outcome.correct and gap.gap_reason = 'resolved') as recovered,
             case
               when outcome.recoverable and outcome.expected_rule = 'ORIGIN_REPAIR'
                 then outcome.correct and gap.gap_reason = 'resolved' and outcome.job_rule = 'ORIGIN_REPAIR'
               when outcome.recoverable
                 then outcome.correct and gap.gap_reason = 'resolved' and outcome.link_rule = outcome.expected_rule
               /* A near-key trap's reason depends on the engine (no candidate, weak, ambiguous, review band): no link is the outcome. */
               when outcome.planted_case like 'trap\\_%' then outcome.person_key is null
               else outcome.person_key is null and outcome.fail_reason = outcome.expected_reason
             end as expected_outcome
      from quality_outcome as outcome
      left join quality_gap as gap on gap.lead_id = outcome.lead_id`);
    const group = (expr: string) => `
      select ${expr} as key,
             count(*)::integer as leads,
             (count(*) filter (where scored.recoverable))::integer as recoverable,
             (count(*) filter (where scored.recovered))::integer as recovered,
             (count(*) filter (where scored.engine_link))::integer as links,
             (count(*) filter (where scored.engine_link and not scored.correct))::integer as wrong_links,
             (count(*) filter (where scored.expected_outcome))::integer as expected_outcome
      from quality_scored as scored
      group by 1 order by 2 desc, 1`;
    const toRows = (rows: Array<Omit<QualityRow, 'recall' | 'precision'>>): QualityRow[] =>
      rows.map((r) => ({ ...r, recall: ratio(r.recovered, r.recoverable), precision: ratio(r.links - r.wrong_links, r.links) }));
    const totals = (await client.query(`
      select count(*)::integer as leads,
             (count(*) filter (where scored.recoverable))::integer as recoverable,
             (count(*) filter (where scored.recovered))::integer as recovered,
             (count(*) filter (where scored.engine_link))::integer as links_made,
             (count(*) filter (where scored.engine_link and scored.correct))::integer as correct_links,
             (count(*) filter (where scored.engine_link and not scored.correct))::integer as wrong_links,
             (count(*) filter (where scored.engine_link and scored.expected_reason = 'MULTIPLE_CANDIDATES'))::integer as links_on_ambiguous,
             (count(*) filter (where scored.engine_link and not scored.recoverable))::integer as links_on_unrecoverable,
             (count(*) filter (where scored.expected_outcome))::integer as expected_outcome
      from quality_scored as scored`)).rows[0] as Omit<Quality, 'precision' | 'recall' | 'by_case' | 'by_expected_rule' | 'by_link_rule' | 'mismatches'>;
    const byCase = toRows((await client.query(group('scored.planted_case'))).rows);
    const byExpectedRule = toRows((await client.query(group("coalesce(nullif(scored.expected_rule, ''), 'none: ' || scored.expected_reason)"))).rows);
    const byLinkRule = (await client.query<{ rule: string; links: number; correct: number }>(`
      select scored.link_rule as rule, count(*)::integer as links, (count(*) filter (where scored.correct))::integer as correct
      from quality_scored as scored where scored.engine_link group by 1 order by 2 desc`)).rows.map((r) => ({ ...r, precision: ratio(r.correct, r.links) }));
    const mismatches = (await client.query(`
      select scored.lead_id, scored.driver_id, scored.planted_case, scored.recoverable, scored.expected_rule, scored.expected_reason,
             scored.link_rule, scored.correct, scored.job_status, scored.fail_reason, scored.gap_reason
      from quality_scored as scored
      where not coalesce(scored.expected_outcome, false) and scored.planted_case not like 'typo\\_%' -- typo leads: near_keys.by_case
      order by scored.planted_case, scored.lead_id limit 20`)).rows;
    const nearKeys = await nearKeyQuality(client);
    await client.query('commit');
    return {
      ...totals,
      precision: ratio(totals.correct_links, totals.links_made),
      recall: ratio(totals.recovered, totals.recoverable),
      by_case: byCase,
      by_expected_rule: byExpectedRule,
      by_link_rule: byLinkRule,
      mismatches,
      near_keys: nearKeys,
    };
  } catch (e) {
    await client.query('rollback').catch(() => undefined);
    throw e;
  }
}

/*
 * Candidate 1 of each lead in review: the review queue's view when it exists, else the store it reads
 * (ops.lead_candidates, written by the run that evaluated the lead), else none. Reads quality_scored of evaluateQuality,
 * inside its transaction.
 */
async function nearKeyQuality(client: pg.ClientBase): Promise<NearKeyQuality> {
  const { rows: sources } = await client.query<{ view: boolean; store: boolean }>(`
    select to_regclass('ops.v_identity_review_queue') is not null as view, to_regclass('ops.lead_candidates') is not null as store`);
  const reviewSource = sources[0]!.view ? 'ops.v_identity_review_queue' : sources[0]!.store ? 'ops.lead_candidates' : null;
  await client.query(`
    create temp table quality_candidate1 on commit drop as
    ${reviewSource ? `select queue.lead_id::text as lead_id, queue.driver_id::text as driver_id from ${reviewSource} as queue where queue.candidate_rank = 1` : 'select null::text as lead_id, null::text as driver_id where false'}`);
  await client.query(`
    create temp table quality_near on commit drop as
    select scored.*,
           scored.planted_case like 'typo\\_%' as typo,
           candidate1.driver_id as candidate1_driver,
           scored.engine_link and (not scored.recoverable or not scored.correct) as bad_link
    from quality_scored as scored
    left join quality_candidate1 as candidate1 on candidate1.lead_id = scored.lead_id
    where scored.planted_case like 'typo\\_%' or scored.planted_case like 'trap\\_%'`);
  const { rows } = await client.query<Omit<NearKeyRow, 'linked_share' | 'outcomes'> & { typo: boolean }>(`
    select near.planted_case as key,
           bool_and(near.typo) as typo,
           count(*)::integer as leads,
           (count(*) filter (where near.engine_link))::integer as links,
           (count(*) filter (where near.engine_link and near.correct))::integer as correct_links,
           (count(*) filter (where near.person_key is null))::integer as left,
           (count(*) filter (where near.person_key is null and near.candidate1_driver is not null))::integer as left_with_candidate,
           (count(*) filter (where near.person_key is null and near.candidate1_driver = near.driver_id))::integer as left_candidate1_true,
           (count(*) filter (where near.bad_link))::integer as bad_links
    from quality_near as near
    group by near.planted_case
    order by bool_and(near.typo) desc, near.planted_case`);
  const { rows: outcomes } = await client.query<{ key: string; outcome: string; leads: number; correct: number }>(`
    select near.planted_case as key,
           coalesce(near.link_rule, 'none: ' || coalesce(near.fail_reason, near.job_status, 'no job row')) as outcome,
           count(*)::integer as leads,
           (count(*) filter (where near.correct))::integer as correct
    from quality_near as near
    group by 1, 2
    order by 1, 3 desc, 2`);
  const wrongLinks = (await client.query(`
    select near.lead_id, near.planted_case, near.driver_id as true_driver, near.link_rule,
           (select string_agg(driver_links.source_pk, ' ' order by driver_links.source_pk) from canon.identity_links as driver_links
             where driver_links.person_key = near.person_key and driver_links.source_table = 'drivers') as linked_drivers
    from quality_near as near where near.bad_link
    order by near.planted_case, near.lead_id limit 20`)).rows;
  const byCase: NearKeyRow[] = rows.map(({ typo, ...r }) => ({
    ...r,
    linked_share: typo ? ratio(r.correct_links, r.leads) : null,
    outcomes: outcomes.filter((o) => o.key === r.key).map(({ outcome, leads, correct }) => ({ outcome, leads, correct })),
  }));
  const sum = (typo: boolean, f: (r: (typeof rows)[number]) => number) => rows.filter((r) => r.typo === typo).reduce((n, r) => n + f(r), 0);
  const typoLeft = sum(true, (r) => r.left);
  const typoLeftTrue = sum(true, (r) => r.left_candidate1_true);
  return {
    typo_leads: sum(true, (r) => r.leads),
    typo_links: sum(true, (r) => r.links),
    typo_correct_links: sum(true, (r) => r.correct_links),
    typo_linked_share: ratio(sum(true, (r) => r.correct_links), sum(true, (r) => r.leads)),
    typo_left: typoLeft,
    typo_left_with_candidate: sum(true, (r) => r.left_with_candidate),
    typo_left_candidate1_true: typoLeftTrue,
    typo_left_candidate1_share: reviewSource ? ratio(typoLeftTrue, typoLeft) : null,
    review_source: reviewSource,
    trap_leads: sum(false, (r) => r.leads),
    trap_bad_links: sum(false, (r) => r.bad_links),
    by_case: byCase,
    wrong_links: wrongLinks,
  };
}

/** The integrity invariants as violation counts (all must be 0), read from ops.v_diag_integrity (what `idgap diagnose` shows); the demo and the bench fail when one is not. */
export async function invariantViolations(client: pg.ClientBase): Promise<Record<string, number>> {
  const { rows } = await client.query<{ check: string; violations: number }>('select "check", violations from ops.v_diag_integrity order by check_order');
  return Object.fromEntries(rows.map((r) => [r.check, r.violations]));
}
