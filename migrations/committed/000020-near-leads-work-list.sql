--! Previous: sha1:4a3fc9423b9c64d6ea8f18df97f04a971640f82d
--! Hash: sha1:0062edf32b92a5fb25c3f49e83e6efe73b105895
--! Message: near leads work list

/*
 * The plan's near-key step on two connections. At 1M leads the step (the
 * leads without an exact candidate, their keys' one-deletion variants probed
 * in canon.near_key_variants, the edits and names checked) took 12 s of a
 * serial plan while the run's second lane waited. The plan now writes those
 * leads to a work list (ops.recovery_near_leads) and their pairs are found in
 * parts (ops.plan_near_pairs(run, part, parts)), on the run's connection and
 * on its second lane at once; a lead's pairs depend on the lead and the index
 * only, so any split gives the same pairs. ops.plan_recovery still does all of
 * it in one call (ops.plan_recovery_leads, the parts, then
 * ops.plan_recovery_components).
 */
create unlogged table ops.recovery_near_leads (
  run_id bigint not null,
  prio integer not null,
  lead_id text not null,
  phone_norm text,
  plate_norm text,
  lead_name text,
  primary key (run_id, prio)
);
comment on table ops.recovery_near_leads is 'Work list of a running recovery run''s plan: its due leads with no exact candidate (no driver with the phone, none on the plate), whose near-key pairs ops.plan_near_pairs finds, in parts on one or more connections. Written by ops.plan_recovery_leads, emptied by ops.plan_recovery_components. Unlogged: a work list of running runs.';
comment on column ops.recovery_near_leads.run_id is 'ops.job_runs.id of the run.';
comment on column ops.recovery_near_leads.prio is 'The lead''s position in the run''s plan (processing order); parts are taken by prio modulo the number of parts.';
comment on column ops.recovery_near_leads.lead_id is 'The lead (lead_id).';
comment on column ops.recovery_near_leads.phone_norm is 'The lead''s normalised phone (canon.norm_phone), or null.';
comment on column ops.recovery_near_leads.plate_norm is 'The lead''s normalised plate (canon.norm_plate), or null.';
comment on column ops.recovery_near_leads.lead_name is 'The lead''s first, middle and last name, for the near pairs'' name check.';

/* A pair carries its lead's prio: the components read the pairs without joining them back to the leads. */
alter table ops.recovery_near_pairs add column prio integer;
comment on column ops.recovery_near_pairs.prio is 'The lead''s position in the run''s plan (ops.recovery_near_leads.prio).';

/* ops.plan_near_pairs takes a part of the work list now (sql/ops/functions/plan_near_pairs.sql). */
drop function if exists ops.plan_near_pairs(bigint, boolean, numeric);
