/*
 * The integrity invariants an operator can check at any time; every count must
 * be 0. The ops.v_identity_gap_health checks matched_without_link and
 * link_without_origin read their numbers from here, so diagnose, the hourly
 * alert task and /metrics count the same thing. Leads linked with no origin
 * that recovery never touched are the no_origin gap, not a violation: the
 * origin check is about persons recovery says it resolved.
 */
create or replace view ops.v_diag_integrity as
with lead_links as (
  select links.source_pk as lead_id, links.person_key
  from canon.identity_links as links
  where links.source_table = 'module_ct_cabinet_leads'
),
matched_jobs as (
  select jobs.source_id as lead_id, jobs.matched_person_key
  from ops.identity_matching_jobs as jobs
  where jobs.source_table = 'module_ct_cabinet_leads' and jobs.status = 'matched'
),
matched_without_link as (
  /* A matched job whose lead is not linked, or linked to another person than the one recorded. */
  select count(*)::integer as violations
  from matched_jobs
  where not exists (select 1 from lead_links
                    where lead_links.lead_id = matched_jobs.lead_id
                      and lead_links.person_key is not distinct from matched_jobs.matched_person_key)
),
resolved_without_origin as (
  select count(distinct matched_jobs.matched_person_key)::integer as violations
  from matched_jobs
  where not exists (select 1 from canon.identity_origin as origins
                    where origins.person_key = matched_jobs.matched_person_key and origins.origin_tag = 'cabinet_lead')
),
duplicate_links as (
  /* Impossible while the unique constraint holds; checked because it is the one guarantee every other number relies on. */
  select count(*)::integer as violations
  from (select lead_links.lead_id from lead_links group by lead_links.lead_id having count(*) > 1) as duplicated
),
person_without_lead as (
  select count(*)::integer as violations
  from canon.identity_registry as persons
  where not exists (select 1 from lead_links where lead_links.person_key = persons.person_key)
),
checks as (
  select 1 as check_order, 'matched_without_link' as "check", matched_without_link.violations,
         'Job rows with status matched whose lead has no link to matched_person_key.' as description,
         'select jobs.source_id, jobs.matched_person_key, jobs.last_run_id from ops.identity_matching_jobs as jobs where jobs.status = ''matched'' and not exists (select 1 from canon.identity_links as links where links.source_table = ''module_ct_cabinet_leads'' and links.source_pk = jobs.source_id and links.person_key = jobs.matched_person_key);' as list_query
  from matched_without_link
  union all
  select 2, 'resolved_without_origin', resolved_without_origin.violations,
         'Persons recovery matched a lead to that have no cabinet_lead origin.',
         'select distinct jobs.matched_person_key from ops.identity_matching_jobs as jobs where jobs.status = ''matched'' and not exists (select 1 from canon.identity_origin as origins where origins.person_key = jobs.matched_person_key and origins.origin_tag = ''cabinet_lead'');'
  from resolved_without_origin
  union all
  select 3, 'duplicate_links', duplicate_links.violations,
         'Leads with more than one link (one link per lead).',
         'select source_pk, count(*) from canon.identity_links where source_table = ''module_ct_cabinet_leads'' group by source_pk having count(*) > 1;'
  from duplicate_links
  union all
  select 4, 'person_without_lead', person_without_lead.violations,
         'Persons with no linked lead (no person is created without a lead).',
         'select persons.person_key from canon.identity_registry as persons where not exists (select 1 from canon.identity_links as links where links.person_key = persons.person_key and links.source_table = ''module_ct_cabinet_leads'');'
  from person_without_lead
)
select checks."check",
       checks.check_order,
       checks.violations,
       case when checks.violations = 0 then 'ok' else 'fail' end as status,
       checks.description,
       checks.list_query
from checks;
comment on view ops.v_diag_integrity is 'One row per integrity invariant (matched_without_link, resolved_without_origin, duplicate_links, person_without_lead): its violation count, which must be 0.';
comment on column ops.v_diag_integrity."check" is 'The invariant''s name.';
comment on column ops.v_diag_integrity.check_order is 'Display order.';
comment on column ops.v_diag_integrity.violations is 'Rows violating it; must be 0.';
comment on column ops.v_diag_integrity.status is 'ok when violations = 0, fail otherwise.';
comment on column ops.v_diag_integrity.description is 'What is counted.';
comment on column ops.v_diag_integrity.list_query is 'A query that lists the violating rows, to paste into psql.';
