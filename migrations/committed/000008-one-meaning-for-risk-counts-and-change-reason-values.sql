--! Previous: sha1:05753eea88d8624fd2f28b0b1d3faf51e04b2f79
--! Hash: sha1:a7eedc135a831efabd4bbe14e1734427c42ae7d5
--! Message: risk counts of the gap history count unresolved leads only; change_reason lists its values

/*
 * ops.identity_gap_daily: risk_high, risk_medium and risk_low count the
 * unresolved leads only, the meaning ops.v_diag_gap_summary, the API and
 * /metrics always had (issue 18 item 8). Until now the snapshot counted every
 * lead, resolved ones included.
 *
 * The rows already written are converted exactly, not left with the old
 * meaning: the risk rule of ops.v_identity_gap_analysis has given every
 * resolved lead risk_level low since the first version of the schema (high and
 * medium need an unresolved gap_reason), and the snapshot counted resolved and
 * the risk levels in one statement over one view scan. So for a row the
 * snapshot wrote, the unresolved high and medium counts equal the stored ones,
 * and the unresolved low count is risk_low - resolved. A row in the old meaning
 * is recognised by its risk counts summing to total_leads; a row whose counts
 * already sum to unresolved (no resolved leads, or written by hand in the new
 * meaning) is left as it is.
 *
 * From now on a check keeps the meaning: the risk counts sum to unresolved. A
 * row that fits neither meaning (edited by hand) is not guessed at: it stays as
 * it is, the check is then left NOT VALID (it still applies to every row
 * written from now on), and a notice names the days to correct.
 */
update ops.identity_gap_daily as daily
set risk_low = daily.risk_low - daily.resolved
where daily.risk_high + daily.risk_medium + daily.risk_low = daily.total_leads
  and daily.total_leads <> daily.unresolved
  and daily.risk_low >= daily.resolved;

alter table ops.identity_gap_daily
  add constraint identity_gap_daily_risk_of_unresolved_check
  check (risk_high + risk_medium + risk_low = unresolved) not valid;

comment on column ops.identity_gap_daily.risk_high is 'Unresolved leads with risk_level high (a resolved lead is never high, so rows written before migration 000008 hold the same count).';
comment on column ops.identity_gap_daily.risk_medium is 'Unresolved leads with risk_level medium (a resolved lead is never medium, so rows written before migration 000008 hold the same count).';
comment on column ops.identity_gap_daily.risk_low is 'Unresolved leads with risk_level low. Until migration 000008 the snapshot counted resolved leads here too (every resolved lead is low); the migration subtracted resolved from those rows.';
comment on constraint identity_gap_daily_risk_of_unresolved_check on ops.identity_gap_daily is 'The risk counts are of unresolved leads: they sum to unresolved.';

/*
 * canon.identity_origin_history.change_reason: the values the recovery writes
 * (ops.process_identity_batch and ops.batch_new_person_origins: origin_created,
 * origin_corrected, origin_upgraded) and manual for a change made by hand
 * (changed_by then names who). Rows with another value, written by hand before
 * this check existed, are kept as they are (the history is append-only): the
 * check is then left NOT VALID, applying to every row written from now on.
 */
alter table canon.identity_origin_history
  add constraint identity_origin_history_change_reason_check
  check (change_reason in ('origin_created', 'origin_corrected', 'origin_upgraded', 'manual')) not valid;

comment on column canon.identity_origin_history.change_reason is 'origin_created, origin_corrected (pointed to another lead) or origin_upgraded (a lower-ranked tag replaced), written by the recovery; manual for a change made by hand.';
comment on constraint identity_origin_history_change_reason_check on canon.identity_origin_history is 'The values change_reason may take.';

do $$
declare
  odd_days text;
  odd_reasons text;
begin
  select string_agg(daily.snapshot_date::text, ', ' order by daily.snapshot_date)
  into odd_days
  from ops.identity_gap_daily as daily
  where daily.risk_high + daily.risk_medium + daily.risk_low <> daily.unresolved;
  if odd_days is null then
    alter table ops.identity_gap_daily validate constraint identity_gap_daily_risk_of_unresolved_check;
  else
    raise notice 'ops.identity_gap_daily: the risk counts of % sum to neither total_leads nor unresolved; they were left as they are (correct them, then: alter table ops.identity_gap_daily validate constraint identity_gap_daily_risk_of_unresolved_check)', odd_days;
  end if;

  select string_agg(distinct quote_literal(history.change_reason), ', ')
  into odd_reasons
  from canon.identity_origin_history as history
  where history.change_reason not in ('origin_created', 'origin_corrected', 'origin_upgraded', 'manual');
  if odd_reasons is null then
    alter table canon.identity_origin_history validate constraint identity_origin_history_change_reason_check;
  else
    raise notice 'canon.identity_origin_history: change_reason values % are not in the list; those rows were kept and the check applies to new rows only', odd_reasons;
  end if;
end
$$;
