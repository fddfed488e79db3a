/*
 * The recovery of one batch: the leads of ops.recovery_queue with
 * p_from_seq <= seq <= p_to_seq, in set-based statements (no loop over leads).
 *
 * The batch first takes its queue rows (deletes them: a batch given the same
 * range waits for this one, then finds nothing left).
 * Matching, without the batch lock (it only reads shared tables):
 *   batch_leads       the leads, their normalised keys and their gap state (ops.lead_gap_state)
 *   batch_candidates  drivers found by each rule after the target-park filter, and the
 *                     person each stands for (ops.batch_find_candidates)
 *   batch_rules, batch_decisions, batch_new_persons
 *                     a verdict per lead and rule, a decision per lead, a new person
 *                     per unlinked driver a link names (ops.batch_decide)
 * Writing what nobody else can see or touch, still without the lock: the new
 * persons, the links of leads to them, their origins and history. No other
 * batch can name a person it cannot see, and the leads are the batch's own
 * (a run's batches take disjoint queue rows; ops.plan_recovery gives no lead
 * to two running runs).
 * Writing the rest under a transaction-level advisory lock shared by the
 * batches of all runs: driver links, links to existing persons and their
 * origins are written only under it, so ids above the newest ones seen before
 * matching are exactly what batches committed meanwhile (a batch's own rows
 * written before the lock are left out); the leads and drivers they touch get
 * their state and person read again. If anything changed, the decisions are
 * taken again; when only drivers were given persons meanwhile and the
 * decisions just follow them, the rows written before the lock stay, but for
 * the new persons of those drivers (ops.batch_keep_early_writes); otherwise
 * they are all deleted again and everything is written under the lock. Then
 * the job rows and the run's counts.
 * So one batch's matching and first writes overlap another's locked writes
 * (the runner keeps two batches in flight), and what is linked to a driver or
 * an existing person is decided on the state as of the lock: two batches
 * cannot create two persons for one driver, and a lead linked meanwhile is
 * found resolved and skipped.
 *
 * The caller runs it in one transaction, so a batch commits whole or not at all.
 */
create or replace function ops.process_identity_batch(p_run_id bigint, p_from_seq integer, p_to_seq integer)
returns table (processed integer, matched integer, failed integer, pending integer, skipped integer)
language plpgsql
volatile
set search_path = pg_catalog, public
set client_min_messages = warning
/* A batch's statements touch thousands of rows through indexes: parallel workers only added their start-up (the lead
   lookups took 93 us each in workers against 5 us in the backend at 1M leads), and the other lane needs the cores. */
set max_parallel_workers_per_gather = 0
/* The batch's analyses of its own temporary tables (5,000 rows; keys that are unique or take a handful of values)
   sample 3,000 rows instead of all 5,000 and keep 10 common values: 16.8 -> 11 ms a batch, the same plans. */
set default_statistics_target = 10
as $$
declare
  country_code text := ops.setting_text('default_country_code');
  target_park text := ops.setting_text('target_park_id');
  threshold numeric := ops.setting_numeric('name_similarity_threshold');
  margin numeric := ops.setting_numeric('ambiguity_margin');
  window_before integer := ops.setting_integer('plate_hire_window_days_before');
  window_after integer := ops.setting_integer('plate_hire_window_days_after');
  max_attempts integer := ops.setting_integer('max_attempts');
  backoff_base integer := ops.setting_integer('retry_backoff_base_minutes');
  backoff_cap integer := ops.setting_integer('retry_backoff_cap_minutes');
  counts record;
  lead_changes record;
  /* The batch took its decisions again under the lock (a batch committed meanwhile changed its leads or drivers). */
  redecided boolean;
  /* The newest link and origin change committed before matching starts: what batches commit later is re-checked. */
  links_seen bigint;
  history_seen bigint;
  changed_leads text[];
  changed_drivers text[];
  /* The new persons, their lead links, origins and history were written before the lock (and still stand). */
  prewritten boolean := false;
  /* The batch decided again under the lock and kept its early writes (ops.batch_keep_early_writes). */
  kept_early boolean := false;
  /* The persons written before the lock, when they have to be deleted again. */
  early_keys uuid[];
  /* Leads whose link could not be written before the lock: someone linked them meanwhile. */
  link_conflicts text[];
  /* Leads whose link could not be written under the lock: linked by hand meanwhile (CONFLICTING_LINK). */
  not_linked text[];
  /* Milliseconds per step, summed into the run's stats.step_ms: where the time goes, per run. */
  step_started timestamptz := clock_timestamp();
  step_ms jsonb := '{}';
begin
  /* What the re-check under the lock is measured from: batches write driver links, and the links and origin
     history of existing persons, only under the lock, so those ids grow in commit order. */
  select coalesce(max(links.id), 0) into links_seen from canon.identity_links as links;
  select coalesce(max(history.id), 0) into history_seen from canon.identity_origin_history as history;

  drop table if exists pg_temp.batch_queue, pg_temp.batch_leads, pg_temp.batch_candidates, pg_temp.batch_rules,
                       pg_temp.batch_decisions, pg_temp.batch_new_persons, pg_temp.batch_origin_plan;

  /* 0. The range's queue rows are the batch's: deleted now, back if the batch rolls back. */
  create temp table batch_queue (seq integer not null, lead_id text not null, has_job boolean not null) on commit drop;
  with taken as (
    delete from ops.recovery_queue as queue
    where queue.run_id = p_run_id and queue.seq between p_from_seq and p_to_seq
    returning queue.seq, queue.lead_id, queue.has_job
  )
  insert into batch_queue (seq, lead_id, has_job)
  select taken.seq, taken.lead_id, taken.has_job from taken;

  /* 1. The leads, with keys normalised by the same functions as the drivers index, and their gap state. */
  create temp table batch_leads on commit drop as
  with found as (
    select distinct on (batch_queue.lead_id)
           batch_queue.seq, batch_queue.lead_id, batch_queue.has_job, cabinet_leads.id as lead_pk, cabinet_leads.lead_created_at,
           cabinet_leads.park_phone, cabinet_leads.asset_plate_number,
           concat_ws(' ', cabinet_leads.first_name, cabinet_leads.middle_name, cabinet_leads.last_name) as lead_name
    from batch_queue
    left join public.module_ct_cabinet_leads as cabinet_leads
      on coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = batch_queue.lead_id
    order by batch_queue.lead_id, (cabinet_leads.external_id is not null) desc, batch_queue.seq
  )
  select found.seq,
         found.lead_id,
         found.lead_pk is not null as lead_found,
         found.lead_created_at,
         found.lead_created_at::date as lead_date,
         canon.norm_phone(found.park_phone, country_code) as phone_norm,
         canon.norm_plate(found.asset_plate_number) as plate_norm,
         /* The raw name stays inside the batch's temporary tables; its tokens are computed only against a plate candidate. */
         found.lead_name,
         state.linked_person_key,
         state.origin_tag,
         state.origin_source_id,
         state.origin_decided_by,
         state.gap_reason,
         /* The lead's job row as it is: only this batch writes it now, so its new values are computed from these. */
         jobs.id as job_id,
         jobs.status as job_status,
         coalesce(jobs.attempt_count, 0) as job_attempts
  from found
  cross join lateral ops.lead_gap_state(found.lead_id, found.lead_pk is not null) as state
  /* Read only for the leads that had a job row when the run planned them (ops.recovery_queue.has_job): the gate is a
     one-time filter above the index probe (OFFSET 0 keeps the sub-select, or the planner makes it a join filter
     evaluated after the probe). A row written meanwhile fails the job rows' insert, which reads them again (step 9). */
  left join lateral (
    select jobs.id, jobs.status, jobs.attempt_count
    from ops.identity_matching_jobs as jobs
    where found.has_job and jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = found.lead_id
    offset 0
  ) as jobs on true;
  /* Statistics on the columns joined and filtered on only (the names are costly to analyse and never joined). */
  analyze batch_leads (lead_id, lead_found, gap_reason, phone_norm, plate_norm, linked_person_key);
  step_ms := step_ms || jsonb_build_object('leads', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 2. Candidates per rule, as persons. */
  perform ops.batch_find_candidates(target_park, window_before, window_after);
  analyze batch_candidates (lead_id, rule_no, driver_id, candidate_person);
  step_ms := step_ms || jsonb_build_object('candidates', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 3, 4. Verdicts per rule, one decision per lead. */
  perform ops.batch_decide(threshold, margin);
  step_ms := step_ms || jsonb_build_object('decisions', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /*
   * 5. Before the lock, what only this batch can see: its new persons, the links
   * of its leads to them, their origins (the earliest of those leads) and history.
   * A lead linked meanwhile by someone else (the insert waits for them) is
   * noted, and read again under the lock.
   */
  perform ops.batch_register_new_persons();

  /* A plain insert; if someone linked one of the leads, it is undone and the upsert writes the others and names those. */
  begin
    perform ops.batch_lead_links(p_run_id, target_park, 'new', false);
  exception when unique_violation then
    link_conflicts := ops.batch_lead_links(p_run_id, target_park, 'new', true);
  end;
  perform ops.batch_new_person_origins(p_run_id);
  prewritten := true;
  step_ms := step_ms || jsonb_build_object('new_persons', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* The rest, one batch at a time: wait for the lock, then look again at what changed meanwhile. */
  perform pg_advisory_xact_lock(hashtextextended('idgap.recovery_batch', 0));
  step_ms := step_ms || jsonb_build_object('lock_wait', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /*
   * What batches committed since matching started: their links, and the persons whose links or origin changed
   * (this batch's own rows, written before the lock for its new persons, left out).
   * Dynamic SQL, so it is planned for the ids at hand (a generic plan guesses a third of the table above $1);
   * joins, not IN (sub-select): a sub-plan the planner does not hash is scanned once per row.
   */
  execute $recheck$
  with new_links as (
    select links.source_table, links.source_pk, links.person_key
    from canon.identity_links as links
    left join batch_new_persons as own on own.person_key = links.person_key
    where links.id > $1 and own.person_key is null
  ),
  changed_persons as (
    select new_links.person_key from new_links where new_links.source_table = 'module_ct_cabinet_leads'
    union
    select history.person_key from canon.identity_origin_history as history where history.id > $2
  )
  select (select array_agg(changed.lead_id)
          from (select batch_leads.lead_id
                from batch_leads
                join new_links on new_links.source_table = 'module_ct_cabinet_leads' and new_links.source_pk = batch_leads.lead_id
                union
                select batch_leads.lead_id
                from batch_leads
                join changed_persons on changed_persons.person_key = batch_leads.linked_person_key
                union
                select conflicts.lead_id from unnest($3::text[]) as conflicts (lead_id)) as changed),
         (select array_agg(distinct batch_candidates.driver_id)
          from batch_candidates
          join new_links on new_links.source_table = 'drivers' and new_links.source_pk = batch_candidates.driver_id)
  $recheck$
  into changed_leads, changed_drivers
  using links_seen, history_seen, coalesce(link_conflicts, '{}');

  if changed_leads is not null or changed_drivers is not null then
    /* Something changed. The persons written before the lock, should they have to be deleted again. */
    select coalesce(array_agg(new_persons.person_key), '{}') into early_keys from batch_new_persons as new_persons;
    if changed_leads is not null then
      /* A lead's state changed (linked meanwhile, or its person's links or origin): the early writes go before
         anything is read again, and everything is written below, on the new state. */
      perform ops.batch_undo_new_persons(early_keys);
      prewritten := false;
    else
      /* Only drivers changed: what was decided and written before the lock, for ops.batch_keep_early_writes. */
      drop table if exists pg_temp.batch_decisions_before, pg_temp.batch_early_persons;
      create temp table batch_decisions_before on commit drop as
      select decisions.lead_id, decisions.decision, decisions.best_rule, decisions.match_score, decisions.named_person,
             decisions.matched_driver_id
      from batch_decisions as decisions;
      create temp table batch_early_persons on commit drop as
      select new_persons.driver_id, new_persons.person_key from batch_new_persons as new_persons;
    end if;
    lead_changes := ops.batch_lead_state(coalesce(changed_leads, '{}'));
    if lead_changes.matchability_changed > 0 then
      perform ops.batch_find_candidates(target_park, window_before, window_after);
      redecided := true;
    else
      redecided := ops.batch_candidate_persons(coalesce(changed_drivers, '{}')) > 0;
      redecided := redecided or lead_changes.changed > 0;
    end if;
    if redecided then
      perform ops.batch_decide(threshold, margin);
    end if;
    /* Only drivers were given persons meanwhile: when the decisions just follow them, the early writes stay
       (ops.batch_keep_early_writes); otherwise they all go, and everything is written below, on the new state. */
    if prewritten then
      if ops.batch_keep_early_writes(changed_drivers, target_park) then
        kept_early := true;
      else
        perform ops.batch_undo_new_persons(early_keys);
        prewritten := false;
      end if;
    end if;
  end if;
  step_ms := step_ms || jsonb_build_object('recheck', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 6. The new persons (unless written before the lock) and their driver links. */
  if not prewritten then
    perform ops.batch_register_new_persons();
  end if;

  insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level, evidence, run_id)
  select new_persons.person_key, 'drivers', new_persons.driver_id, 'DRIVER_MATCH', 100, 'HIGH',
         jsonb_build_object('lead_id', new_persons.lead_id,
                            'rule', case new_persons.best_rule when 1 then 'R1_PHONE_EXACT' when 2 then 'R3_PLATE_NAME' else 'R3B_PLATE_NAME_ANY_DATE' end),
         p_run_id
  from batch_new_persons as new_persons
  order by new_persons.driver_id;
  step_ms := step_ms || jsonb_build_object('driver_links', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 7. Lead links not written yet. A lead linked meanwhile by someone else is not re-pointed: CONFLICTING_LINK. */
  not_linked := ops.batch_lead_links(p_run_id, target_park, case when prewritten then 'existing' else 'all' end, true);
  if not_linked is not null then
    update batch_decisions as decisions
    set decision = 'CONFLICTING_LINK'
    where decisions.lead_id = any (not_linked);
  end if;
  if not prewritten then
    perform ops.batch_new_person_origins(p_run_id);
  end if;

  step_ms := step_ms || jsonb_build_object('lead_links', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /*
   * 8. Origins of the existing persons this batch linked or repairs (a new
   * person's origin is written with it): the earliest linked lead
   * (lead_created_at, then lead_id). Inserted, corrected when it points
   * elsewhere, upgraded when its tag ranks lower; a manual origin is kept and a
   * lead it leaves in the gap is reported CONFLICTING_LINK.
   */
  create temp table batch_origin_plan on commit drop as
  with touched as (
    select distinct decisions.person_key
    from batch_decisions as decisions
    where decisions.decision in ('LINK', 'REPAIR') and decisions.person_key is not null
      and not exists (select 1 from batch_new_persons as new_persons where new_persons.person_key = decisions.person_key)
  ),
  /* Per person through the person_key index, the earliest of its lead links (LATERAL ... LIMIT 1). */
  earliest_existing as (
    select touched.person_key, earliest.lead_id, earliest.lead_created_at, earliest.match_score, earliest.match_rule
    from touched
    cross join lateral (
      select links.source_pk as lead_id, cabinet_leads.lead_created_at, links.match_score, links.match_rule
      from canon.identity_links as links
      left join public.module_ct_cabinet_leads as cabinet_leads
        on coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = links.source_pk
      where links.person_key = touched.person_key and links.source_table = 'module_ct_cabinet_leads'
      order by cabinet_leads.lead_created_at asc nulls last, links.source_pk
      limit 1
    ) as earliest
  )
  select earliest_existing.*,
         origins.origin_tag as old_tag,
         origins.origin_source_id as old_source_id,
         origins.decided_by as old_decided_by,
         case
           when origins.person_key is null then 'origin_created'
           when origins.origin_tag = 'cabinet_lead' and origins.origin_source_id = earliest_existing.lead_id then 'unchanged'
           when origins.decided_by = 'manual' then 'manual_kept'
           when origins.origin_tag = 'cabinet_lead' then 'origin_corrected'
           else 'origin_upgraded'
         end as action
  from earliest_existing
  left join canon.identity_origin as origins on origins.person_key = earliest_existing.person_key;

  insert into canon.identity_origin (person_key, origin_tag, origin_source_id, origin_created_at, origin_confidence, decided_by, decided_at, evidence)
  select plan.person_key, 'cabinet_lead', plan.lead_id, plan.lead_created_at, plan.match_score, 'system', now(),
         jsonb_build_object('rule', 'earliest_linked_lead', 'link_rule', plan.match_rule, 'run_id', p_run_id)
  from batch_origin_plan as plan
  where plan.action = 'origin_created'
  order by plan.person_key;

  update canon.identity_origin as origins
  set origin_tag = 'cabinet_lead',
      origin_source_id = plan.lead_id,
      origin_created_at = plan.lead_created_at,
      origin_confidence = plan.match_score,
      decided_by = 'system',
      decided_at = now(),
      evidence = jsonb_build_object('rule', 'earliest_linked_lead', 'link_rule', plan.match_rule, 'run_id', p_run_id,
                                    'previous_tag', plan.old_tag, 'previous_source_id', plan.old_source_id)
  from batch_origin_plan as plan
  where plan.person_key = origins.person_key and plan.action in ('origin_corrected', 'origin_upgraded');

  insert into canon.identity_origin_history (person_key, old_origin_tag, new_origin_tag, old_source_id, new_source_id, changed_by, change_reason, run_id)
  select plan.person_key, plan.old_tag, 'cabinet_lead', plan.old_source_id, plan.lead_id, 'system', plan.action, p_run_id
  from batch_origin_plan as plan
  where plan.action in ('origin_created', 'origin_corrected', 'origin_upgraded');

  /* A manual origin the system disagrees with stays; the leads it leaves in the gap are reported. */
  update batch_decisions as decisions
  set decision = 'CONFLICTING_LINK'
  from batch_origin_plan as plan
  where plan.person_key = decisions.person_key
    and plan.action = 'manual_kept'
    and decisions.decision in ('LINK', 'REPAIR')
    and not (plan.old_tag = 'cabinet_lead'
             and exists (select 1 from canon.identity_links as origin_links
                         where origin_links.source_table = 'module_ct_cabinet_leads'
                           and origin_links.source_pk = plan.old_source_id
                           and origin_links.person_key = plan.person_key));
  step_ms := step_ms || jsonb_build_object('origins', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /*
   * 9. Job rows (ops.batch_job_rows), computed from the rows as read with the
   * leads (for the leads that had one when the run was planned). A job row
   * written since the plan for a lead planned without one (by hand: two runs never
   * hold one lead, ops.plan_recovery prevents it) fails the plain insert after
   * its writer committed: the rows are read again and written once more.
   */
  begin
    counts := ops.batch_job_rows(p_run_id, max_attempts, backoff_base, backoff_cap);
  exception when unique_violation then
    update batch_leads
    set job_id = jobs.id, job_status = jobs.status, job_attempts = jobs.attempt_count
    from ops.identity_matching_jobs as jobs
    where jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = batch_leads.lead_id;
    counts := ops.batch_job_rows(p_run_id, max_attempts, backoff_base, backoff_cap);
  end;

  step_ms := step_ms || jsonb_build_object('job_rows', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  update ops.job_runs as runs
  set processed = runs.processed + counts.processed,
      matched = runs.matched + counts.matched,
      failed = runs.failed + counts.failed,
      pending = runs.pending + counts.pending,
      skipped = runs.skipped + counts.skipped,
      stats = runs.stats || jsonb_build_object('step_ms', (
                select jsonb_object_agg(steps.key, round(coalesce((runs.stats -> 'step_ms' ->> steps.key)::numeric, 0) + steps.value::numeric, 1))
                from jsonb_each_text(step_ms) as steps)) || jsonb_build_object('reasons',
                coalesce(runs.stats -> 'reasons', '{}'::jsonb) || coalesce((
                  select jsonb_object_agg(reasons.decision, coalesce((runs.stats -> 'reasons' ->> reasons.decision)::integer, 0) + reasons.n)
                  from (select decisions.decision, count(*) as n from batch_decisions as decisions group by decisions.decision) as reasons), '{}'::jsonb))
              || jsonb_build_object('redecided_batches', coalesce((runs.stats ->> 'redecided_batches')::integer, 0)
                                                         + case when redecided then 1 else 0 end)
              /* Of those, the batches that kept the rows written before the lock. */
              || jsonb_build_object('kept_early_writes', coalesce((runs.stats ->> 'kept_early_writes')::integer, 0)
                                                         + case when kept_early then 1 else 0 end)
  where runs.id = p_run_id;

  return query select counts.processed, counts.matched, counts.failed, counts.pending, counts.skipped;
end
$$;
comment on function ops.process_identity_batch(bigint, integer, integer) is 'Recovers the leads of a run''s queue between two seq numbers: matching by the rules of SPEC 3, persons, links, origins, job rows and the run''s counts, set-based. Call it in its own transaction.';
