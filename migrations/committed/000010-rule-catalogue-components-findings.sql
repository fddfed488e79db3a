--! Previous: sha1:14c7d879cff195f81c9f0b5c89dd43a5bcdf16ea
--! Hash: sha1:eafbfb6ab71c05575d13c7801cd36395b8ac4350
--! Message: rule catalogue, recovery queue components and batches, identity link findings

/*
 * The rule catalogue: one row per match_rule a link or a job row may carry.
 * The recovery reads score, confidence and priority from here (one definition;
 * they were written out as literals in three places). score is null where the
 * rule scores each match itself (R3B: round(similarity * 100)).
 * blocking_key names the normalised key of the lead the rule looks candidates up
 * by in canon.drivers_index (the column of the same name there): the plan groups
 * leads into components over every rule that has one, so a rule added later
 * with a key joins the partition with no other change.
 */
create table ops.match_rules (
  match_rule text primary key,
  kind text not null check (kind in ('match', 'driver', 'manual', 'repair', 'review')),
  priority integer unique,
  score integer check (score between 0 and 100),
  confidence_level text check (confidence_level in ('HIGH', 'MEDIUM', 'LOW')),
  blocking_key text check (blocking_key in ('phone_norm', 'plate_norm')),
  description text not null
);
comment on table ops.match_rules is 'The rule catalogue: one row per match_rule of canon.identity_links and ops.identity_matching_jobs, with its score, confidence and priority (SPEC 3.2). The recovery reads these values from here.';
comment on column ops.match_rules.match_rule is 'The rule''s code, as written in match_rule columns.';
comment on column ops.match_rules.kind is 'match (a matching rule of the recovery), driver (a driver''s link to the person made for it), manual (by a person), repair (origin derived again for a linked lead), review (reserved for manual review).';
comment on column ops.match_rules.priority is 'Matching rules only: 1 is tried first and wins when rules agree; null for the others.';
comment on column ops.match_rules.score is 'match_score a link by this rule gets (0-100); null when the rule scores each match (R3B: round(similarity * 100)) or writes no link.';
comment on column ops.match_rules.confidence_level is 'confidence_level a link by this rule (and a person it creates) gets; null when the rule writes no link.';
comment on column ops.match_rules.blocking_key is 'Matching rules only: the normalised key (a column of canon.drivers_index and of the recovery''s leads) the rule finds candidate drivers by; the plan''s components are built over every rule''s key.';
comment on column ops.match_rules.description is 'What the rule means, for an operator.';

insert into ops.match_rules (match_rule, kind, priority, score, confidence_level, blocking_key, description) values
  ('R1_PHONE_EXACT', 'match', 1, 95, 'HIGH', 'phone_norm', 'The lead''s normalised phone equals the driver''s.'),
  ('R3_PLATE_NAME', 'match', 2, 85, 'MEDIUM', 'plate_norm', 'Same plate, hire date within the window of the lead date, name similarity at or above the threshold.'),
  ('R3B_PLATE_NAME_ANY_DATE', 'match', 3, null, 'MEDIUM', 'plate_norm', 'Same plate, any hire date, only when no driver on the plate is inside the window; scored round(similarity * 100).'),
  ('DRIVER_MATCH', 'driver', null, 100, 'HIGH', null, 'The link of a driver to the person the recovery created for it.'),
  ('MANUAL', 'manual', null, null, null, null, 'A link written by a person.'),
  ('ORIGIN_REPAIR', 'repair', null, null, null, null, 'A lead already linked whose person''s origin the recovery derived again (job rows only).'),
  ('MANUAL_REVIEW', 'review', null, null, null, null, 'Reserved: a lead sent to manual review.');

alter table canon.identity_links
  add constraint identity_links_match_rule_fkey foreign key (match_rule) references ops.match_rules (match_rule) on delete restrict;
comment on column canon.identity_links.match_rule is 'The rule that linked: a row of ops.match_rules (R1_PHONE_EXACT, R3_PLATE_NAME, R3B_PLATE_NAME_ANY_DATE, DRIVER_MATCH, MANUAL).';
alter table ops.identity_matching_jobs
  add constraint identity_matching_jobs_match_rule_fkey foreign key (match_rule) references ops.match_rules (match_rule) on delete restrict;
comment on column ops.identity_matching_jobs.match_rule is 'The rule that linked, or ORIGIN_REPAIR: a row of ops.match_rules.';

/*
 * The plan groups the due leads into components (leads that share a candidate
 * driver or a person) and packs whole components into batches: batches of one
 * run share nothing another batch writes, so they run on any number of
 * connections, and the result does not depend on the batch size or order.
 */
alter table ops.recovery_queue add column if not exists component integer;
alter table ops.recovery_queue add column if not exists batch_no integer;
comment on column ops.recovery_queue.component is 'The lead''s component in the run''s plan: the smallest seq of the leads it shares a candidate driver or a person with (transitively).';
comment on column ops.recovery_queue.batch_no is 'The batch of the run the lead''s component was packed into; a batch is a contiguous range of seq.';

/*
 * A linked lead in the gap is repaired without matching (SPEC 3.3); when its
 * matching names another person, that is recorded here (one row per lead, the
 * latest run's finding) and read through ops.v_identity_link_findings.
 */
create table ops.identity_link_findings (
  lead_id text primary key,
  linked_person_key uuid not null,
  named_person text not null,
  match_rule text not null references ops.match_rules (match_rule) on delete restrict,
  run_id bigint,
  found_at timestamptz not null default now()
);
comment on table ops.identity_link_findings is 'One row per linked lead whose matching, in the last recovery that repaired it, named another person than the one it is linked to. The link is kept (never re-pointed); an operator decides.';
comment on column ops.identity_link_findings.lead_id is 'The lead (lead_id).';
comment on column ops.identity_link_findings.linked_person_key is 'The person the lead is linked to.';
comment on column ops.identity_link_findings.named_person is 'The person matching named: a person_key, or driver:<driver_id> for an unlinked driver (a person not created).';
comment on column ops.identity_link_findings.match_rule is 'The rule that named it.';
comment on column ops.identity_link_findings.run_id is 'ops.job_runs.id of the run that found it.';
comment on column ops.identity_link_findings.found_at is 'When it was found.';

/* The worker reads the catalogue and writes the findings (ops.apply_grants grants the tables it lists by name). */
grant select on ops.match_rules to idgap_worker, idgap_reader;
grant select, insert, update, delete on ops.identity_link_findings to idgap_worker;

/* The batch lock's helpers are gone with it (the re-check, the undo and the kept early writes). */
drop function if exists ops.batch_keep_early_writes(text[], text);
drop function if exists ops.batch_undo_new_persons(uuid[]);
drop function if exists ops.batch_lead_state(text[]);
drop function if exists ops.batch_candidate_persons(text[]);
