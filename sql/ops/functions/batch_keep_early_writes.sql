/*
 * Under the batch lock, after a batch committed meanwhile gave persons to some
 * of this batch's candidate drivers (p_changed_drivers) and the decisions were
 * taken again: keeps what ops.process_identity_batch wrote before the lock,
 * when the only change is the one those links force. That is the common case
 * (consecutive batches share drivers: at 100,000 leads 19 of 20 batches met
 * one), and it otherwise cost the batch all of its early writes, deleted and
 * written again under the lock.
 *
 * It holds when every lead is decided as before (pg_temp.batch_decisions_before):
 * the same decision, rule and score, and the same person, except that a lead
 * that named the new person of a changed driver now names the person that
 * driver was linked to. Then:
 *   - the new persons of the changed drivers go (ops.batch_undo_new_persons):
 *     their leads are linked under the lock to the driver's person, whose
 *     origin the origin step decides again;
 *   - the other new persons keep the keys written before the lock
 *     (pg_temp.batch_early_persons), with their links, origins and history;
 *   - a kept lead link whose candidates include a changed driver gets its
 *     evidence written again (the candidate's person changed).
 * Returns false, changing nothing, when the decisions changed otherwise: the
 * caller then deletes every early write and writes everything under the lock.
 */
create or replace function ops.batch_keep_early_writes(p_changed_drivers text[], p_target_park text)
returns boolean
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  differing integer;
  gone uuid[];
begin
  with relinked as (
    select distinct candidates.driver_id, candidates.candidate_person
    from batch_candidates as candidates
    where candidates.driver_id = any (p_changed_drivers)
  )
  select count(*) into differing
  from batch_decisions_before as before
  full join batch_decisions as after on after.lead_id = before.lead_id
  left join relinked on before.named_person = 'driver:' || relinked.driver_id
  where after.decision is distinct from before.decision
     or after.best_rule is distinct from before.best_rule
     or after.match_score is distinct from before.match_score
     or after.named_person is distinct from coalesce(relinked.candidate_person, before.named_person)
     or (relinked.driver_id is null and after.matched_driver_id is distinct from before.matched_driver_id);
  if differing > 0 then
    return false;
  end if;

  select array_agg(early.person_key) into gone
  from batch_early_persons as early
  where not exists (select 1 from batch_new_persons as new_persons where new_persons.driver_id = early.driver_id);
  if gone is not null then
    perform ops.batch_undo_new_persons(gone);
  end if;

  /* The persons that stay keep the keys their rows were written with. */
  update batch_new_persons as new_persons
  set person_key = early.person_key
  from batch_early_persons as early
  where early.driver_id = new_persons.driver_id and early.person_key <> new_persons.person_key;
  update batch_decisions as decisions
  set person_key = new_persons.person_key
  from batch_new_persons as new_persons
  where decisions.decision = 'LINK' and decisions.named_person like 'driver:%'
    and new_persons.driver_id = decisions.matched_driver_id
    and decisions.person_key is distinct from new_persons.person_key;

  with affected as (
    select distinct candidates.lead_id
    from batch_candidates as candidates
    where candidates.driver_id = any (p_changed_drivers)
  )
  update canon.identity_links as links
  set evidence = ops.lead_link_evidence(decisions.match_rule, decisions.matched_driver_id, decisions.lead_keys, decisions.rules, p_target_park)
  from batch_decisions as decisions
  join affected on affected.lead_id = decisions.lead_id
  join batch_new_persons as new_persons on new_persons.person_key = decisions.person_key
  where decisions.decision = 'LINK'
    and links.source_table = 'module_ct_cabinet_leads' and links.source_pk = decisions.lead_id
    and links.person_key = decisions.person_key;
  return true;
end
$$;
comment on function ops.batch_keep_early_writes(text[], text) is 'Under the recovery batch lock: keeps the rows written before the lock when the decisions taken again differ only by the persons batches gave the drivers p_changed_drivers meanwhile (deletes those drivers'' new persons, keeps the other keys, rewrites affected evidence); false, changing nothing, otherwise. Internal: called inside the recovery batch transaction only.';
