/*
 * The system checks operators and monitors read (idgap diagnose --check, the
 * check_identity_gap_alerts task, /metrics). Freshness is measured from the run
 * ledger, never from the last attempt on a lead. job_freshness, the two
 * integrity checks and gap_trend read ops.v_diag_freshness, ops.v_diag_integrity
 * and ops.v_identity_gap_trend, so diagnose and the checks cannot disagree.
 */
create or replace view ops.v_identity_gap_health as
with settings as (
  select ops.setting_integer('alert_no_match_hours') as no_match_hours,
         ops.setting_integer('alert_drivers_index_stale_hours') as index_stale_hours,
         ops.setting_integer('alert_work_list_stale_seconds') as work_list_stale_seconds
),
freshness as (
  select freshness.status, freshness.hours_since_last_success, freshness.stale_threshold_hours, freshness.last_run_state, freshness.last_run_error
  from ops.v_diag_freshness as freshness
),
recent_matches as (
  select coalesce(sum(runs.matched), 0)::numeric as matched
  from ops.job_runs as runs, settings
  where runs.task = 'retry_identity_matching'
    and runs.started_at >= now() - make_interval(hours => settings.no_match_hours)
),
recoverable as (
  /*
   * Unresolved leads recovery can still act on: never attempted, not given up
   * on, or given up on and re-opened since by a changed driver that meets
   * their keys (next_attempt_at set, as ops.plan_recovery reads it).
   */
  select count(*)::numeric as leads
  from ops.v_identity_gap_analysis as analysis
  left join ops.identity_matching_jobs as jobs
    on jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = analysis.lead_id
  where analysis.gap_reason <> 'resolved'
    and (jobs.status is null
         or jobs.status <> 'failed'
         or jobs.next_attempt_at is not null)
),
index_state as (
  /* A left join from a one-row select: a missing state row must not make the check disappear. */
  select state.last_refreshed_at, (select count(*) from public.drivers)::numeric as drivers
  from (select 1) as one_row
  left join canon.drivers_index_state as state on true
),
integrity as (
  select integrity."check", integrity.violations::numeric as violations
  from ops.v_diag_integrity as integrity
),
work_lists as (
  /* The oldest row no incremental run took yet, of either work list (the oldest by id: the open rows' index). */
  select round(extract(epoch from clock_timestamp() - least(
           (select changes.recorded_at from ops.lead_changes as changes where changes.taken_at is null order by changes.id limit 1),
           (select ranges.recorded_at from ops.lead_insert_ranges as ranges order by ranges.id limit 1),
           (select changes.recorded_at from ops.driver_changes as changes where changes.taken_at is null order by changes.id limit 1)))::numeric, 1)
         as oldest_waiting_seconds
),
trend as (
  /* first_day: today's row is the first of the history (direction no_history): nothing to compare yet, not a missing day. */
  select trend.pct_unresolved_now as today, trend.pct_unresolved_then as yesterday, trend.pct_unresolved_change as change,
         trend.direction = 'no_history' as first_day
  from ops.v_identity_gap_trend as trend
  where trend.period = '1d'
),
checks as (
  select 1 as check_order, 'job_freshness' as "check",
         case freshness.status when 'OK' then 'ok' else 'fail' end as status,
         freshness.hours_since_last_success as value,
         freshness.stale_threshold_hours as threshold,
         case when freshness.status = 'NEVER' then 'retry_identity_matching has never succeeded: is the worker running (idgap start)? Run idgap recover now.'
              when freshness.status = 'STALE' then 'No retry_identity_matching run succeeded for ' || freshness.hours_since_last_success || ' h (STALE): check the worker and the crontab, read the last run''s error (idgap diagnose), then run idgap recover.'
              else 'Hours since the last successful retry_identity_matching run (OK below the threshold).' end as hint
  from freshness
  union all
  select 2, 'match_flow',
         case when recent_matches.matched > 0 or recoverable.leads = 0 then 'ok' else 'warn' end,
         recent_matches.matched,
         settings.no_match_hours::numeric,
         'Leads matched in the last ' || settings.no_match_hours || ' h while ' || recoverable.leads || ' recoverable leads remain; nothing matching: see the top fail reasons (idgap diagnose), refresh the drivers index.'
  from settings, recent_matches, recoverable
  union all
  select 3, 'drivers_index_freshness',
         case when index_state.last_refreshed_at is null and index_state.drivers > 0 then 'fail'
              when index_state.last_refreshed_at < now() - make_interval(hours => settings.index_stale_hours) then 'warn'
              else 'ok' end,
         round((extract(epoch from now() - index_state.last_refreshed_at) / 3600)::numeric, 2),
         settings.index_stale_hours::numeric,
         case when index_state.last_refreshed_at is null and index_state.drivers > 0
              then 'canon.drivers_index was never built while public.drivers has rows: run idgap refresh-drivers-index.'
              else 'Hours since canon.drivers_index was last refreshed; run idgap refresh-drivers-index (or the refresh_drivers_index task).' end
  from settings, index_state
  union all
  select 4, 'matched_without_link',
         case when integrity.violations = 0 then 'ok' else 'fail' end,
         integrity.violations, 0::numeric,
         'Job rows say matched but the lead has no link to the matched person: an integrity violation; list them with the list_query of ops.v_diag_integrity (check matched_without_link).'
  from integrity
  where integrity."check" = 'matched_without_link'
  union all
  select 5, 'link_without_origin',
         case when integrity.violations = 0 then 'ok' else 'fail' end,
         integrity.violations, 0::numeric,
         'Persons recovery resolved that lack a cabinet_lead origin; run recovery with gap_reason no_origin to repair them (SELECT ops.enqueue_recovery(null, null, ''no_origin'')).'
  from integrity
  where integrity."check" = 'resolved_without_origin'
  union all
  select 6, 'gap_trend',
         case when trend.today is not null and trend.first_day then 'ok'
              when trend.today is null or trend.yesterday is null then 'warn'
              when trend.today > trend.yesterday then 'warn'
              else 'ok' end,
         trend.change,
         0::numeric,
         case when trend.today is not null and trend.first_day
              then 'No history yet: today''s snapshot is the first; the trend compares with yesterday from tomorrow on.'
              when trend.today is null or trend.yesterday is null
              then 'No gap history for today or yesterday: is snapshot_identity_gap running? (idgap snapshot)'
              else 'pct_unresolved today ' || trend.today || ' vs yesterday ' || trend.yesterday || ': a growing gap means leads arrive faster than recovery links them.' end
  from trend
  union all
  select 7, 'work_lists_drain',
         case when coalesce(work_lists.oldest_waiting_seconds, 0) > settings.work_list_stale_seconds then 'fail' else 'ok' end,
         coalesce(work_lists.oldest_waiting_seconds, 0),
         settings.work_list_stale_seconds::numeric,
         case when coalesce(work_lists.oldest_waiting_seconds, 0) > settings.work_list_stale_seconds
              then 'A lead or driver change has waited ' || work_lists.oldest_waiting_seconds || ' s in the work lists (ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes): no recover_arrivals run takes them. Is the worker running (idgap start)? Is a recover_arrivals job queued (graphile_worker.jobs), or stuck behind a long retry_identity_matching run in their serial queue?'
              else 'Seconds the oldest untaken row of the arrival work lists has waited (0 when none waits).' end
  from settings, work_lists
)
select checks."check", checks.status, checks.value, checks.threshold, checks.hint,
       case checks.status when 'fail' then 3 when 'warn' then 2 else 1 end as status_rank
from checks
order by checks.check_order;
comment on view ops.v_identity_gap_health is 'One row per system check (job_freshness, match_flow, drivers_index_freshness, matched_without_link, link_without_origin, gap_trend, work_lists_drain) with its status. gap_trend is ok on the first day of history (nothing to compare yet).';
comment on column ops.v_identity_gap_health."check" is 'The check''s name.';
comment on column ops.v_identity_gap_health.status is 'ok, warn or fail.';
comment on column ops.v_identity_gap_health.value is 'The measured value (hours, counts or a difference in percentage points; null when never measured).';
comment on column ops.v_identity_gap_health.threshold is 'The value the check compares with.';
comment on column ops.v_identity_gap_health.hint is 'What the value means and what to do.';
comment on column ops.v_identity_gap_health.status_rank is '3 fail, 2 warn, 1 ok: sort on this.';
