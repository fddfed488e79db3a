/*
 * One page of the review queue (ops.v_identity_review_queue) grouped by lead:
 * one row per lead, ordered by lead_id, with the lead's fields and its
 * candidates side by side as JSON, and the number of leads in the queue. With
 * p_lead_id, that lead only (no row when it is not in the queue).
 *
 * Security definer (pinned search_path): the queue carries personal data and
 * is granted to nobody; the API's role reads it through this function (behind
 * its token), as the command line does.
 */
create or replace function ops.review_queue_page(p_page integer, p_page_size integer, p_lead_id text default null)
returns table (total_leads bigint, lead_id text, item jsonb)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  /* The page's leads from the queue's keys only (the view's other columns are not computed for them), then each
     page lead's candidates through the view with its lead_id pushed down: the names, norms and similarities are
     computed for the page only. One lead (p_lead_id): an index probe, the scan's branch is never run. */
  with leads as (
    select queue.lead_id
    from ops.v_identity_review_queue as queue
    where p_lead_id is null and queue.candidate_rank = 1
    union all
    select p_lead_id
    where p_lead_id is not null
      and exists (select 1 from ops.v_identity_review_queue as queue where queue.lead_id = p_lead_id)
  ),
  total as (
    select count(*) as total_leads from leads
  ),
  page as (
    select leads.lead_id
    from leads
    order by leads.lead_id
    limit greatest(p_page_size, 0)
    offset greatest(p_page - 1, 0)::bigint * greatest(p_page_size, 0)
  ),
  items as (
    select page.lead_id, lead_item.item
    from page
    cross join lateral (
      select jsonb_build_object(
               'lead_id', page.lead_id,
               'queue_reason', min(queue.queue_reason) filter (where queue.candidate_rank = 1),
               'lead', (array_agg(jsonb_build_object('name', queue.lead_name, 'plate', queue.lead_plate, 'phone_masked', queue.lead_phone_masked,
                                                     'date', queue.lead_date, 'park', queue.lead_park)))[1],
               'candidates', jsonb_agg(jsonb_build_object(
                 'candidate_rank', queue.candidate_rank, 'driver_id', queue.driver_id, 'person_key', queue.person_key,
                 'score', queue.score, 'match_rule', queue.match_rule, 'queue_reason', queue.queue_reason, 'evidence', queue.evidence,
                 'driver', jsonb_build_object('name', queue.driver_name, 'plate', queue.driver_plate, 'phone_masked', queue.driver_phone_masked,
                                              'hire_date', queue.hire_date, 'park', queue.driver_park),
                 'compared', jsonb_build_object('phone_agrees', queue.phone_agrees, 'plate_agrees', queue.plate_agrees,
                                                'name_similarity', queue.name_similarity, 'name_agrees', queue.name_agrees,
                                                'days_after_hire', queue.days_after_hire, 'hire_date_agrees', queue.hire_date_agrees),
                 'run_id', queue.run_id, 'evaluated_at', queue.evaluated_at) order by queue.candidate_rank)) as item
      from ops.v_identity_review_queue as queue
      where queue.lead_id = page.lead_id
    ) as lead_item
  )
  select total.total_leads, items.lead_id, items.item
  from items
  cross join total
  order by items.lead_id
$$;
comment on function ops.review_queue_page(integer, integer, text) is 'One page (1-based) of the review queue grouped by lead, ordered by lead_id: the lead, its candidates side by side (JSON) and the number of leads in the queue; p_lead_id for one lead. Security definer: the API and the command line read the queue through it.';
