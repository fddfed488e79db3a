/*
 * Plans a recovery run in one call: the due leads of the gap, highest risk and
 * oldest first, grouped into components that share no candidate driver or
 * person and packed whole into batches (ops.recovery_queue). Its three phases
 * are functions of their own (ops.plan_recovery_leads has the whole story):
 *   1. ops.plan_recovery_leads   the due leads, their keys and exact anchors,
 *                                the near keys' work list;
 *   2. ops.plan_near_pairs       the near-key pairs, here in one part (a run
 *                                with a second lane splits them over both
 *                                connections: src/recovery.ts);
 *   3. ops.plan_recovery_components  components, batches, statistics.
 * The caller holds the recovery lock (ops.recovery_lock_key()) on its session:
 * two runs never overlap.
 */
create or replace function ops.plan_recovery(
  p_run_id bigint,
  p_limit integer default null,
  p_risk_level text default null,
  p_gap_reason text default null,
  p_date_from date default null,
  p_date_to date default null,
  p_batch_size integer default 5000,
  p_lead_ids text[] default null)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
begin
  perform ops.plan_recovery_leads(p_run_id, p_limit, p_risk_level, p_gap_reason, p_date_from, p_date_to, p_batch_size, p_lead_ids);
  perform ops.plan_near_pairs(p_run_id, 0, 1);
  return ops.plan_recovery_components(p_run_id, p_batch_size);
end
$$;
comment on function ops.plan_recovery(bigint, integer, text, text, date, date, integer, text[]) is 'Fills ops.recovery_queue for a run with the due leads of the gap (filters optional; p_lead_ids: those leads only), highest risk and oldest first, grouped into components that share no candidate driver or person and packed whole into batches of about p_batch_size; the three phases in one call (ops.plan_recovery_leads, ops.plan_near_pairs, ops.plan_recovery_components). The caller holds the recovery lock. Returns how many leads.';
