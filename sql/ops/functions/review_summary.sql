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
  select (select count(*) from ops.v_identity_review_queue as queue where queue.candidate_rank = 1),
         (select count(*) from ops.v_identity_review_queue as queue),
         (select count(*) from ops.review_decisions as decisions where decisions.decision = 'accept'),
         (select count(*) from ops.review_decisions as decisions where decisions.decision = 'reject')
$$;
comment on function ops.review_summary() is 'The leads and candidates in the review queue and the decisions taken (accepted, rejected), counts only. Security definer; granted to idgap_reader.';
