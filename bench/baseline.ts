/**
 * The per-lead baseline (NOT product code): the rules of docs/matching-rules.md implemented the
 * way the original job did it — one lead at a time, a few queries per lead, a
 * commit every `commitEvery` leads. bench/perf.ts runs it on the same data as
 * the set-based recovery so the speed-up is a ratio measured side by side.
 *
 * It uses the same normalisers and similarity (canon.*) so both compute the same
 * thing; it ignores the target park and writes no history rows, which only
 * makes it faster than the original, so the ratio is conservative.
 */
import type pg from 'pg';

interface Candidate {
  driver_id: string;
  person: string;
  similarity: number | null;
  hire_date: string | null;
}

export interface BaselineResult {
  leads: number;
  matched: number;
  ms: number;
  leadsPerSecond: number;
}

export async function runBaseline(client: pg.ClientBase, limit: number, commitEvery = 100): Promise<BaselineResult> {
  const started = Date.now();
  const { rows: leads } = await client.query<{ lead_id: string }>(
    `select coalesce(external_id, id::text) as lead_id from public.module_ct_cabinet_leads order by id limit $1`,
    [limit],
  );
  let matched = 0;
  let inTx = 0;
  await client.query('begin');
  for (const { lead_id } of leads) {
    const lead = (
      await client.query(
        `select l.lead_created_at::date::text as lead_date,
                canon.norm_phone(l.park_phone, '51') as phone, canon.norm_plate(l.asset_plate_number) as plate,
                canon.name_tokens(concat_ws(' ', l.first_name, l.middle_name, l.last_name)) as tokens
           from public.module_ct_cabinet_leads l where coalesce(l.external_id, l.id::text) = $1`,
        [lead_id],
      )
    ).rows[0];
    const linked = await client.query(`select 1 from canon.identity_links where source_table = 'module_ct_cabinet_leads' and source_pk = $1`, [lead_id]);
    let person: string | null = null;
    let driver: string | null = null;
    let rule = '';
    if (lead && linked.rowCount === 0 && (lead.phone || lead.plate)) {
      const byPhone: Candidate[] = lead.phone
        ? (
            await client.query(
              `select d.driver_id, coalesce(k.person_key::text, 'driver:' || d.driver_id) as person, null::numeric as similarity, d.hire_date::text
                 from canon.drivers_index d left join canon.identity_links k on k.source_table = 'drivers' and k.source_pk = d.driver_id
                where d.phone_norm = $1`,
              [lead.phone],
            )
          ).rows
        : [];
      const byPlate: Candidate[] = lead.plate
        ? (
            await client.query(
              `select d.driver_id, coalesce(k.person_key::text, 'driver:' || d.driver_id) as person,
                      canon.name_similarity($2, d.name_tokens)::float8 as similarity, d.hire_date::text
                 from canon.drivers_index d left join canon.identity_links k on k.source_table = 'drivers' and k.source_pk = d.driver_id
                where d.plate_norm = $1`,
              [lead.plate, lead.tokens],
            )
          ).rows
        : [];
      const named: Array<{ rule: string; person: string; driver: string }> = [];
      let ambiguous = false;
      const phonePersons = [...new Set(byPhone.map((c) => c.person))];
      if (phonePersons.length === 1) named.push({ rule: 'R1_PHONE_EXACT', person: phonePersons[0]!, driver: byPhone[0]!.driver_id });
      else if (phonePersons.length > 1) ambiguous = true;
      const inWindow = (c: Candidate) => {
        if (!lead.lead_date) return false;
        if (!c.hire_date) return true;
        const days = (Date.parse(c.hire_date) - Date.parse(lead.lead_date)) / 86_400_000;
        return days >= -90 && days <= 30;
      };
      const r3 = byPlate.filter(inWindow);
      const plate = r3.length > 0 ? { rule: 'R3_PLATE_NAME', cands: r3 } : { rule: 'R3B_PLATE_NAME_ANY_DATE', cands: byPlate };
      if (plate.cands.length > 0) {
        const sorted = [...plate.cands].sort((a, b) => (b.similarity ?? 0) - (a.similarity ?? 0));
        const best = sorted[0]!;
        const other = sorted.find((c) => c.person !== best.person);
        if ((best.similarity ?? 0) >= 0.66) {
          if (other && (best.similarity ?? 0) - (other.similarity ?? 0) <= 0.15) ambiguous = true;
          else named.push({ rule: plate.rule, person: best.person, driver: best.driver_id });
        }
      }
      const persons = new Set(named.map((n) => n.person));
      if (persons.size === 1 && !ambiguous) {
        person = named[0]!.person;
        driver = named[0]!.driver;
        rule = named[0]!.rule;
      }
    }
    if (person && driver) {
      let key = person;
      if (person.startsWith('driver:')) {
        key = (await client.query(`insert into canon.identity_registry (person_key, confidence_level) values (canon.uuid_v7(), 'HIGH') returning person_key`)).rows[0].person_key;
        await client.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level) values ($1, 'drivers', $2, 'DRIVER_MATCH', 100, 'HIGH')`, [key, driver]);
      }
      await client.query(
        `insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level) values ($1, 'module_ct_cabinet_leads', $2, $3, 90, 'HIGH')`,
        [key, lead_id, rule],
      );
      await client.query(
        `insert into canon.identity_origin (person_key, origin_tag, origin_source_id) values ($1, 'cabinet_lead', $2) on conflict (person_key) do nothing`,
        [key, lead_id],
      );
      matched += 1;
    }
    await client.query(
      `insert into ops.identity_matching_jobs (source_id, status, attempt_count, last_attempt_at) values ($1, $2, 1, now())
       on conflict (source_table, source_id) do update set status = excluded.status, attempt_count = ops.identity_matching_jobs.attempt_count + 1`,
      [lead_id, person ? 'matched' : 'pending'],
    );
    inTx += 1;
    if (inTx >= commitEvery) {
      await client.query('commit');
      await client.query('begin');
      inTx = 0;
    }
  }
  await client.query('commit');
  const ms = Date.now() - started;
  return { leads: leads.length, matched, ms, leadsPerSecond: Math.round((leads.length * 1000) / ms) };
}
