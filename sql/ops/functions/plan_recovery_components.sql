/*
 * The plan of a recovery run, phase 3 of 3 (ops.plan_recovery_leads has the
 * whole story): the components of the due leads and their batches.
 *
 * The near-key pairs the parts found (ops.recovery_near_pairs) join the
 * anchors of the exact rules (pg_temp.plan_edges), as the person each driver
 * stands for. Two leads are in one component when they share an anchor; the
 * components are the connected components of that lead-anchor graph, by label
 * propagation (each lead starts with its own position; each round gives every
 * lead the smallest label among the leads sharing an anchor with it, until no
 * label changes). Anchors of one lead only are dropped first: they join
 * nothing. Whole components are packed into batches in priority order
 * (p_batch_size a target; a component of p_batch_size leads or more is a
 * batch of its own), and seq numbers them batch by batch, so a batch is a
 * range of seq. Batches of a run then share no driver and no person: they run
 * on any number of connections, and the result is the same for any batch
 * size and order. Written to ops.recovery_queue, with the plan's statistics
 * in the run's stats; the plan's temporary tables and the run's near-key work
 * list are dropped.
 */
create or replace function ops.plan_recovery_components(p_run_id bigint, p_batch_size integer default 5000)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
set client_min_messages = warning
set jit = off
set max_parallel_workers_per_gather = 0
as $$
declare
  queued integer;
  changed integer;
  iterations integer := 0;
  plan_stats jsonb;
  near_pairs integer;
begin
  /* The plan's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: plan_due (prio integer, lead_id text, has_job boolean, linked_person_key uuid, phone_norm text, plate_norm text, lead_name text)';
  perform 'PRAGMA:TABLE: plan_edges (prio integer, anchor text, exact_candidate boolean)';
  perform 'PRAGMA:TABLE: plan_labels (prio integer, label integer)';
  perform 'PRAGMA:TABLE: plan_shared (prio integer, anchor text)';
  perform 'PRAGMA:TABLE: plan_sizes (component integer, size integer)';
  if p_batch_size is null or p_batch_size < 1 then
    raise exception 'batch_size must be at least 1 (got %)', p_batch_size using errcode = 'invalid_parameter_value';
  end if;
  if to_regclass('pg_temp.plan_due') is null then
    raise exception 'ops.plan_recovery_components: no plan in this session; run ops.plan_recovery_leads first'
      using errcode = 'object_not_in_prerequisite_state';
  end if;
  /* The near-key pairs (rules R4, R5) of the run's leads: the person each driver stands for. */
  insert into plan_edges (prio, anchor)
  select pairs.prio, ops.candidate_person(driver_links.person_key, pairs.driver_id)
  from ops.recovery_near_pairs as pairs
  left join canon.identity_links as driver_links
    on driver_links.source_table = 'drivers' and driver_links.source_pk = pairs.driver_id
  where pairs.run_id = p_run_id;
  get diagnostics near_pairs = row_count;

  /* Only anchors shared by two leads or more join anything. */
  create temp table plan_shared on commit drop as
  select distinct edges.prio, edges.anchor
  from plan_edges as edges
  join (select shared.anchor from plan_edges as shared group by shared.anchor having min(shared.prio) <> max(shared.prio)) as shared
    on shared.anchor = edges.anchor;
  create temp table plan_labels on commit drop as
  select distinct shared.prio, shared.prio as label from plan_shared as shared;
  alter table plan_labels add primary key (prio);
  analyze pg_temp.plan_shared, pg_temp.plan_labels;

  loop
    with anchor_labels as (
      select shared.anchor, min(labels.label) as label
      from plan_shared as shared
      join plan_labels as labels on labels.prio = shared.prio
      group by shared.anchor
    ),
    lead_labels as (
      select shared.prio, min(anchor_labels.label) as label
      from plan_shared as shared
      join anchor_labels on anchor_labels.anchor = shared.anchor
      group by shared.prio
    )
    update plan_labels as labels
    set label = lead_labels.label
    from lead_labels
    where lead_labels.prio = labels.prio and lead_labels.label < labels.label;
    get diagnostics changed = row_count;
    iterations := iterations + 1;
    exit when changed = 0;
  end loop;

  /* The components of two leads or more (a lead without a label is a component of its own, of one lead). */
  create temp table plan_sizes on commit drop as
  select labels.label as component, count(*)::integer as size from plan_labels as labels group by labels.label;

  /*
   * Whole components packed in priority order, in one sort of the leads by (component, prio) and two passes over it
   * (at 1M leads, with the queue's insert: 3.8 s as five window passes and a second sort, 2.5 s now). A component of
   * p_batch_size leads or more is a batch of its own; the others fill batches of about p_batch_size. A batch starts
   * at the first lead of a component when that component or the one before is a batch of its own, or when the count
   * of packed leads (those of the smaller components) before it lies in another multiple of p_batch_size than the
   * count before the previous component (this one's count less the previous component's size). seq follows the
   * same order, so a batch is a range of seq.
   */
  with components as (
    select coalesce(labels.label, due.prio) as component, due.prio, due.lead_id, due.has_job, due.phone_norm, due.plate_norm,
           coalesce(sizes.size, 1) as size, coalesce(sizes.size, 1) >= p_batch_size as alone
    from plan_due as due
    left join plan_labels as labels on labels.prio = due.prio
    left join plan_sizes as sizes on sizes.component = labels.label
  ),
  counted as (
    select components.*, row_number() over ordered as seq,
           count(*) filter (where not components.alone) over ordered - (not components.alone)::integer as packed_before,
           lag(components.component) over ordered as previous_component,
           lag(components.alone) over ordered as previous_alone,
           lag(components.size) over ordered as previous_size
    from components
    window ordered as (order by components.component, components.prio rows between unbounded preceding and current row)
  ),
  started as (
    select counted.*,
           case when counted.previous_component = counted.component then 0
                when counted.alone or coalesce(counted.previous_alone, true) then 1
                when counted.packed_before / p_batch_size <> (counted.packed_before - counted.previous_size) / p_batch_size then 1
                else 0 end as starts_batch
    from counted
  )
  insert into ops.recovery_queue (run_id, seq, lead_id, has_job, component, batch_no, phone_norm, plate_norm)
  select p_run_id, started.seq::integer, started.lead_id, started.has_job, started.component,
         sum(started.starts_batch) over (order by started.component, started.prio rows between unbounded preceding and current row)::integer,
         started.phone_norm, started.plate_norm
  from started;
  get diagnostics queued = row_count;

  /* The statistics from the plan's own small tables: every lead without a label is a component of one. */
  select jsonb_build_object(
           'leads', queued,
           'components', queued - coalesce(sum(sizes.size), 0) + count(*),
           'largest_component', greatest(coalesce(max(sizes.size), 0), least(queued - coalesce(sum(sizes.size), 0), 1)),
           'components_over_1', count(*),
           'components_over_100', count(*) filter (where sizes.size > 100),
           'label_iterations', iterations,
           'near_pairs', near_pairs,
           /* Component sizes: how many components of 1, 2, 3-5, 6-10, 11-100 and over 100 leads. */
           'component_sizes', jsonb_build_object(
             '1', queued - coalesce(sum(sizes.size), 0), '2', count(*) filter (where sizes.size = 2),
             '3-5', count(*) filter (where sizes.size between 3 and 5), '6-10', count(*) filter (where sizes.size between 6 and 10),
             '11-100', count(*) filter (where sizes.size between 11 and 100), 'over_100', count(*) filter (where sizes.size > 100)),
           /* batch_no grows with seq: the last queue row's is the count. */
           'batches', coalesce((select queue.batch_no from ops.recovery_queue as queue where queue.run_id = p_run_id order by queue.seq desc limit 1), 0))
  into plan_stats
  from plan_sizes as sizes;
  update ops.job_runs as runs set stats = runs.stats || jsonb_build_object('plan', plan_stats) where runs.id = p_run_id;

  /* The plan's tables are done with; the near keys' work list too (the pairs stay, for the batches). */
  drop table plan_due, plan_edges;
  delete from ops.recovery_near_leads as near_leads where near_leads.run_id = p_run_id;
  return queued;
end
$$;
comment on function ops.plan_recovery_components(bigint, integer) is 'Phase 3 of the plan of a recovery run (ops.plan_recovery): joins the near-key pairs into the plan''s anchors, groups the due leads of pg_temp.plan_due into components that share no candidate driver or person, packs them whole into batches of about p_batch_size into ops.recovery_queue, records the plan''s statistics, and drops the plan''s tables. Returns how many leads.';
