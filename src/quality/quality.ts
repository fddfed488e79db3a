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
 * must not link ended with the expected reason code.
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
  /** Up to 20 leads whose outcome differs from the truth: lead ids and codes only (no personal data). */
  mismatches: Array<Record<string, string | boolean | null>>;
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
      from quality_scored as scored where not coalesce(scored.expected_outcome, false)
      order by scored.planted_case, scored.lead_id limit 20`)).rows;
    await client.query('commit');
    return {
      ...totals,
      precision: ratio(totals.correct_links, totals.links_made),
      recall: ratio(totals.recovered, totals.recoverable),
      by_case: byCase,
      by_expected_rule: byExpectedRule,
      by_link_rule: byLinkRule,
      mismatches,
    };
  } catch (e) {
    await client.query('rollback').catch(() => undefined);
    throw e;
  }
}

/** The integrity invariants as violation counts (all must be 0), read from ops.v_diag_integrity (what `idgap diagnose` shows); the demo and the bench fail when one is not. */
export async function invariantViolations(client: pg.ClientBase): Promise<Record<string, number>> {
  const { rows } = await client.query<{ check: string; violations: number }>('select "check", violations from ops.v_diag_integrity order by check_order');
  return Object.fromEntries(rows.map((r) => [r.check, r.violations]));
}
