/*
 * Step 8b of ops.process_identity_batch: the origins of the existing persons the
 * batch linked or repairs (a new person's origin is written with it,
 * ops.batch_new_person_origins): the earliest linked lead (lead_created_at,
 * then lead_id), read through the person_key index. Inserted, corrected when
 * it points elsewhere, upgraded when its tag ranks lower; every change appends
 * a history row. A manual origin is kept, and a lead it leaves in the gap is
 * reported CONFLICTING_LINK (its decision is changed in pg_temp.batch_decisions).
 * Every lead of these persons that is in the run is in this batch
 * (ops.plan_recovery's components), so the earliest is final for the run.
 */
create or replace function ops.batch_existing_origins(p_run_id bigint)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
set client_min_messages = warning
as $$
declare
  changed integer;
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_decisions (seq integer, lead_id text, lead_created_at timestamp, linked_person_key uuid, gap_reason text, named_person text, best_rule integer, rules json, decision text, lead_keys json, matched_driver_id text, finding_person text, match_rule text, confidence_level text, match_score integer, person_key uuid)';
  perform 'PRAGMA:TABLE: batch_new_persons (driver_id text, person_key uuid, confidence_level text, best_rule integer, lead_id text, phone_norm text, license_norm text, name_norm text)';
  perform 'PRAGMA:TABLE: batch_origin_plan (person_key uuid, lead_id text, lead_created_at timestamp, match_score integer, match_rule text, old_tag text, old_source_id text, old_decided_by text, action text)';
  drop table if exists pg_temp.batch_origin_plan;
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
  get diagnostics changed = row_count;
  return changed;
end
$$;
comment on function ops.batch_existing_origins(bigint) is 'Step 8b of ops.process_identity_batch: derives again the origin of each existing person the batch linked or repairs (earliest linked lead), with history; a manual origin is kept and its leads reported CONFLICTING_LINK. Returns how many leads were so reported. Internal: called inside the recovery batch transaction only.';
