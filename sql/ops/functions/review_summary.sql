/*
 * The review queue's size and the decisions taken, without personal data: for
 * the metrics (idgap_review_queue_leads, idgap_review_decisions_total) and the
 * dashboard. Security definer (pinned search_path), so a role without the
 * queue's rights (idgap_reader) gets the counts of ops.v_identity_review_queue,
 * the one definition of the queue, and never its rows.
 */
create or replace function ops.review_summary()
returns table (queue_leads bigint, queue_candidates bigint, accepted bigint, rejected bigint)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  /* One pass over the queue's keys (the view's names and similarities are not computed for a count). */
  select queue.leads, queue.candidates, decisions.accepted, decisions.rejected
  from (select count(*) filter (where queue.candidate_rank = 1) as leads, count(*) as candidates
        from ops.v_identity_review_queue as queue) as queue
  cross join (select count(*) filter (where decisions.decision = 'accept') as accepted,
                     count(*) filter (where decisions.decision = 'reject') as rejected
              from ops.review_decisions as decisions) as decisions
$$;
comment on function ops.review_summary() is 'The leads and candidates in the review queue and the decisions taken (accepted, rejected), counts only. Security definer; granted to idgap_reader.';
