--! Previous: sha1:eafbfb6ab71c05575d13c7801cd36395b8ac4350
--! Hash: sha1:b7c9bc7b2ab525ab586e64474cce18ae2f6b2833
--! Message: review candidates and decisions, and the arrival work lists

/*
 * The review queue's store: the candidates the last run that evaluated a lead
 * saw, when it ended without a link but with a plausible candidate
 * (WEAK_MATCH_ONLY, MULTIPLE_CANDIDATES, or a near-key candidate in the review
 * band). The run replaces a lead's rows each time it evaluates it and deletes
 * them when the lead is linked or has no plausible candidate any more, so the
 * queue shows what the engine saw and reads without matching again.
 */
create table ops.lead_candidates (
  lead_id text not null,
  candidate_rank integer not null check (candidate_rank >= 1),
  driver_id text not null,
  person_key uuid,
  match_rule text not null references ops.match_rules (match_rule) on delete restrict,
  score integer not null check (score between 0 and 100),
  evidence jsonb not null default '{}',
  queue_reason text not null,
  run_id bigint,
  evaluated_at timestamptz not null default now(),
  primary key (lead_id, candidate_rank)
);
create index lead_candidates_driver_id_idx on ops.lead_candidates (driver_id);
comment on table ops.lead_candidates is 'The candidates the last recovery run that evaluated a lead saw, for leads left without a link but with a plausible candidate; read by ops.v_identity_review_queue. Carries personal data through its joins: never granted to idgap_reader.';
comment on column ops.lead_candidates.lead_id is 'The lead (lead_id).';
comment on column ops.lead_candidates.candidate_rank is '1 = the best candidate of the lead.';
comment on column ops.lead_candidates.driver_id is 'The candidate driver.';
comment on column ops.lead_candidates.person_key is 'The person the driver is linked to when the run saw it; null while it has none.';
comment on column ops.lead_candidates.match_rule is 'The rule that proposed the candidate (a row of ops.match_rules).';
comment on column ops.lead_candidates.score is 'The candidate''s score, 0-100, on the scale of canon.identity_links.match_score.';
comment on column ops.lead_candidates.evidence is 'Per compared field: the level reached and its weight, as a link''s evidence.';
comment on column ops.lead_candidates.queue_reason is 'Why the lead is in review: WEAK_MATCH_ONLY, MULTIPLE_CANDIDATES or REVIEW_BAND.';
comment on column ops.lead_candidates.run_id is 'ops.job_runs.id of the run that evaluated the lead.';
comment on column ops.lead_candidates.evaluated_at is 'When that run evaluated it.';

/*
 * Every review decision, appended (never updated). A reject means the pair is
 * never linked nor proposed again, under any rule: the engine drops the pairs
 * of review_decisions_rejected_idx from its candidates.
 */
create table ops.review_decisions (
  id bigint generated always as identity primary key,
  lead_id text not null,
  driver_id text not null,
  decision text not null check (decision in ('accept', 'reject')),
  reviewer text not null check (length(btrim(reviewer)) between 1 and 200),
  note text check (note is null or length(note) <= 2000),
  person_key uuid,
  evidence jsonb not null default '{}',
  decided_at timestamptz not null default now()
);
create index review_decisions_rejected_idx on ops.review_decisions (lead_id, driver_id) where decision = 'reject';
create index review_decisions_lead_id_idx on ops.review_decisions (lead_id);
comment on table ops.review_decisions is 'Every decision of a reviewer on a lead and a candidate driver, appended by ops.review_decide. A rejected pair is never linked nor proposed again; no run undoes a decision.';
comment on column ops.review_decisions.id is 'Order of the decisions.';
comment on column ops.review_decisions.lead_id is 'The lead (lead_id).';
comment on column ops.review_decisions.driver_id is 'The candidate driver decided on.';
comment on column ops.review_decisions.decision is 'accept (the lead is linked to the driver''s person, MANUAL_REVIEW) or reject (the pair is never linked nor proposed again).';
comment on column ops.review_decisions.reviewer is 'Who decided, as they named themselves.';
comment on column ops.review_decisions.note is 'The reviewer''s note, if any.';
comment on column ops.review_decisions.person_key is 'accept: the person the lead was linked to.';
comment on column ops.review_decisions.evidence is 'The candidate as the reviewer was shown it (score and evidence of the queue row).';
comment on column ops.review_decisions.decided_at is 'When.';

/*
 * The arrival work lists: the source of truth of recovery as data arrives.
 * Statement-level triggers on the raw tables append the changed ids; the
 * incremental run takes them (sets run_id and taken_at) and the rows stay a
 * while for the latency view. A driver's old keys are the drivers index's row
 * until the incremental refresh replaces it, so an id is all a change needs.
 */
create table ops.lead_changes (
  id bigint generated always as identity primary key,
  lead_id text not null,
  recorded_at timestamptz not null default clock_timestamp(),
  run_id bigint,
  taken_at timestamptz
);
create index lead_changes_open_idx on ops.lead_changes (id) where taken_at is null;
create index lead_changes_lead_id_idx on ops.lead_changes (lead_id);
comment on table ops.lead_changes is 'Work list: one row per lead inserted, or updated on a key column, recorded by the triggers on public.module_ct_cabinet_leads; taken by the incremental recovery run.';
comment on column ops.lead_changes.id is 'Order of recording.';
comment on column ops.lead_changes.lead_id is 'The lead (lead_id = coalesce(external_id, id::text)).';
comment on column ops.lead_changes.recorded_at is 'When the trigger recorded it (clock time of the loader''s statement): latency is measured from here.';
comment on column ops.lead_changes.run_id is 'ops.job_runs.id of the run that took it; null while waiting.';
comment on column ops.lead_changes.taken_at is 'When a run took it; null while waiting.';

create table ops.driver_changes (
  id bigint generated always as identity primary key,
  driver_id text not null,
  change text not null check (change in ('insert', 'update', 'delete')),
  recorded_at timestamptz not null default clock_timestamp(),
  run_id bigint,
  taken_at timestamptz
);
create index driver_changes_open_idx on ops.driver_changes (id) where taken_at is null;
comment on table ops.driver_changes is 'Work list: one row per driver inserted, updated or deleted, recorded by the triggers on public.drivers; taken by the incremental refresh of canon.drivers_index.';
comment on column ops.driver_changes.id is 'Order of recording.';
comment on column ops.driver_changes.driver_id is 'The driver.';
comment on column ops.driver_changes.change is 'insert, update or delete.';
comment on column ops.driver_changes.recorded_at is 'When the trigger recorded it.';
comment on column ops.driver_changes.run_id is 'ops.job_runs.id of the run that took it; null while waiting.';
comment on column ops.driver_changes.taken_at is 'When a run took it; null while waiting.';
