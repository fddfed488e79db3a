/*
 * The system checks operators and monitors read (idgap diagnose --check, the
 * check_identity_gap_alerts task, /metrics). Freshness is measured from the run
 * ledger, never from the last attempt on a lead.
 */
create or replace view ops.v_identity_gap_health as
with settings as (
  select ops.setting_integer('alert_job_stale_hours') as job_stale_hours,
         ops.setting_integer('alert_no_match_hours') as no_match_hours,
         ops.setting_integer('alert_drivers_index_stale_hours') as index_stale_hours
),
last_recovery as (
  select max(runs.finished_at) as finished_at
  from ops.job_runs as runs
  where runs.task = 'retry_identity_matching' and runs.state = 'succeeded'
),
recent_matches as (
  select coalesce(sum(runs.matched), 0)::numeric as matched
  from ops.job_runs as runs, settings
  where runs.task = 'retry_identity_matching'
    and runs.started_at >= now() - make_interval(hours => settings.no_match_hours)
),
recoverable as (
  /* Unresolved leads recovery can still act on: never attempted, or not given up on. */
  select count(*)::numeric as leads
  from ops.v_identity_gap_analysis as analysis
  left join ops.identity_matching_jobs as jobs
    on jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = analysis.lead_id
  where analysis.gap_reason <> 'resolved' and (jobs.status is null or jobs.status <> 'failed')
),
index_state as (
  select state.last_refreshed_at, (select count(*) from public.drivers)::numeric as drivers
  from canon.drivers_index_state as state
),
matched_without_link as (
  select count(*)::numeric as n
  from ops.identity_matching_jobs as jobs
  where jobs.status = 'matched'
    and not exists (select 1 from canon.identity_links as links
                    where links.source_table = 'module_ct_cabinet_leads' and links.source_pk = jobs.source_id)
),
link_without_origin as (
  select count(distinct jobs.matched_person_key)::numeric as n
  from ops.identity_matching_jobs as jobs
  where jobs.status = 'matched'
    and not exists (select 1 from canon.identity_origin as origins
                    where origins.person_key = jobs.matched_person_key and origins.origin_tag = 'cabinet_lead')
),
trend as (
  select (select daily.pct_unresolved from ops.identity_gap_daily as daily
          where daily.snapshot_date = (now() at time zone 'utc')::date) as today,
         (select daily.pct_unresolved from ops.identity_gap_daily as daily
          where daily.snapshot_date = (now() at time zone 'utc')::date - 1) as yesterday
),
checks as (
  select 1 as check_order, 'job_freshness' as "check",
         case when last_recovery.finished_at is null then 'fail'
              when last_recovery.finished_at < now() - make_interval(hours => settings.job_stale_hours) then 'fail'
              else 'ok' end as status,
         round((extract(epoch from now() - last_recovery.finished_at) / 3600)::numeric, 2) as value,
         settings.job_stale_hours::numeric as threshold,
         case when last_recovery.finished_at is null then 'retry_identity_matching has never succeeded: is the worker running (idgap start)? Run idgap recover now.'
              else 'Hours since the last successful retry_identity_matching run; above the threshold the recovery is STALE: check the worker and the crontab, then idgap recover.' end as hint
  from settings, last_recovery
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
         'Hours since canon.drivers_index was last refreshed; run idgap refresh-drivers-index (or the refresh_drivers_index task).'
  from settings, index_state
  union all
  select 4, 'matched_without_link',
         case when matched_without_link.n = 0 then 'ok' else 'fail' end,
         matched_without_link.n, 0::numeric,
         'Job rows say matched but the lead has no link: an integrity violation; list them with: select source_id from ops.identity_matching_jobs where status = ''matched'' and source_id not in (select source_pk from canon.identity_links).'
  from matched_without_link
  union all
  select 5, 'link_without_origin',
         case when link_without_origin.n = 0 then 'ok' else 'fail' end,
         link_without_origin.n, 0::numeric,
         'Persons recovery resolved that lack a cabinet_lead origin; run recovery with gap_reason no_origin to repair them.'
  from link_without_origin
  union all
  select 6, 'gap_trend',
         case when trend.today is null or trend.yesterday is null then 'warn'
              when trend.today > trend.yesterday then 'warn'
              else 'ok' end,
         trend.today - trend.yesterday,
         0::numeric,
         case when trend.today is null or trend.yesterday is null
              then 'No gap history for today or yesterday: is snapshot_identity_gap running? (idgap snapshot)'
              else 'pct_unresolved today ' || trend.today || ' vs yesterday ' || trend.yesterday || ': a growing gap means leads arrive faster than recovery links them.' end
  from trend
)
select checks."check", checks.status, checks.value, checks.threshold, checks.hint,
       case checks.status when 'fail' then 3 when 'warn' then 2 else 1 end as status_rank
from checks
order by checks.check_order;
comment on view ops.v_identity_gap_health is 'One row per system check (job_freshness, match_flow, drivers_index_freshness, matched_without_link, link_without_origin, gap_trend) with its status.';
comment on column ops.v_identity_gap_health."check" is 'The check''s name.';
comment on column ops.v_identity_gap_health.status is 'ok, warn or fail.';
comment on column ops.v_identity_gap_health.value is 'The measured value (hours, counts or a difference in percentage points; null when never measured).';
comment on column ops.v_identity_gap_health.threshold is 'The value the check compares with.';
comment on column ops.v_identity_gap_health.hint is 'What the value means and what to do.';
comment on column ops.v_identity_gap_health.status_rank is '3 fail, 2 warn, 1 ok: sort on this.';
