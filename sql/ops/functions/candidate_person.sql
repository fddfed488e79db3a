/*
 * The person a candidate driver stands for in the recovery's decisions: the
 * person it is linked to, or, unlinked, a new person of its own, named
 * 'driver:<driver_id>' until the batch creates it. One expression, so the
 * planner inlines it into the batch's statements (ops.batch_find_candidates,
 * and ops.batch_candidate_persons under the batch lock).
 */
create or replace function ops.candidate_person(p_person_key uuid, p_driver_id text)
returns text
language sql
immutable
parallel safe
as $$
  select coalesce(p_person_key::text, 'driver:' || p_driver_id)
$$;
comment on function ops.candidate_person(uuid, text) is 'The person a candidate driver stands for: its linked person_key, else ''driver:<driver_id>'' (a person the recovery batch would create).';
