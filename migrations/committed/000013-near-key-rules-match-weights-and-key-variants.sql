--! Previous: sha1:d6130c0ffd32e63f65c57ac8be2f16ac0a6f94c8
--! Hash: sha1:d1285d7deca96581eaaf232f345142a38cc19dce
--! Message: near-key rules R4, R5, R6, Fellegi-Sunter match weights, the drivers' key variants and the REVIEW_BAND reason

/*
 * Near keys (docs/matching-rules.md, section 6): rules after the exact ones.
 * Their blocking keys are not columns of canon.drivers_index: plate_near and
 * phone_near name the one-deletion variants of canon.near_key_variants, joined
 * by ops.plan_near_pairs (the plan's loop over blocking keys joins the columns
 * only). R6 finds its drivers by the exact plate. Score and confidence are per
 * match (the Fellegi-Sunter score, and the thresholds of ops.settings).
 */
alter table ops.match_rules drop constraint if exists match_rules_blocking_key_check;
alter table ops.match_rules add constraint match_rules_blocking_key_check
  check (blocking_key in ('phone_norm', 'plate_norm', 'phone_near', 'plate_near'));
comment on column ops.match_rules.blocking_key is 'Matching rules only: the normalised key the rule finds candidate drivers by: a column of canon.drivers_index and of the recovery''s leads (phone_norm, plate_norm; the plan''s components are built over each), or phone_near / plate_near, the one-deletion variants of canon.near_key_variants (joined by ops.plan_near_pairs).';
insert into ops.match_rules (match_rule, kind, priority, score, confidence_level, blocking_key, description) values
  ('R4_PLATE_NEAR', 'match', 4, null, null, 'plate_near', 'A plate one edit from the driver''s (a substitution, look-alikes 0/O 1/I 8/B 5/S 2/Z 6/G included, or two adjacent characters swapped), the name agreeing; only for leads the exact rules leave without a person; scored by the Fellegi-Sunter weights.'),
  ('R5_PHONE_NEAR', 'match', 5, null, null, 'phone_near', 'A phone one digit substitution or one adjacent swap from the driver''s, the name agreeing; only for leads the exact rules leave without a person; scored by the Fellegi-Sunter weights.'),
  ('R6_NAME_NEAR_PLATE', 'match', 6, null, null, 'plate_norm', 'Same plate, the name agreeing when each token may carry one edit (substitution, insertion, deletion, adjacent swap): the plate rules'' weak case of a misspelt name; scored by the Fellegi-Sunter weights.');

/* A lead whose best near-key candidate scored in the review band waits for a reviewer. */
alter table ops.identity_matching_jobs drop constraint if exists identity_matching_jobs_fail_reason_check;
alter table ops.identity_matching_jobs add constraint identity_matching_jobs_fail_reason_check
  check (fail_reason in ('MISSING_KEYS', 'NO_CANDIDATES', 'WEAK_MATCH_ONLY', 'MULTIPLE_CANDIDATES', 'CONFLICTING_LINK',
                         'LEAD_NOT_FOUND', 'INVALID_LEAD_DATE', 'ERROR', 'REVIEW_BAND'));

/*
 * The drivers' near keys: every distinct phone and plate of canon.drivers_index
 * (near_keys) and each one's one-deletion variants (near_key_variants). Two
 * keys of one length one substitution or one adjacent swap apart share a
 * variant, so near keys are found by an equality join; the true edit is checked
 * after it (canon.one_edit). Kept by canon.refresh_near_keys, which the index
 * refresh calls when its content changed. Keyed by the key, not the driver: a
 * driver's row follows from drivers_index's indexes on phone_norm and plate_norm.
 */
create table canon.near_keys (
  key_kind text not null check (key_kind in ('phone', 'plate')),
  key text not null,
  primary key (key_kind, key)
);
comment on table canon.near_keys is 'One row per distinct phone_norm and plate_norm of canon.drivers_index whose one-deletion variants are in canon.near_key_variants (kept by canon.refresh_near_keys).';
comment on column canon.near_keys.key_kind is 'phone (phone_norm) or plate (plate_norm).';
comment on column canon.near_keys.key is 'The normalised key.';

create table canon.near_key_variants (
  key_kind text not null check (key_kind in ('phone', 'plate')),
  variant text not null,
  key text not null,
  primary key (key_kind, variant, key)
);
comment on table canon.near_key_variants is 'One row per key of canon.near_keys and each of its one-deletion variants (canon.key_deletions): the blocking table of rules R4_PLATE_NEAR and R5_PHONE_NEAR, joined by equality.';
comment on column canon.near_key_variants.key_kind is 'phone or plate.';
comment on column canon.near_key_variants.variant is 'The key with one character deleted.';
comment on column canon.near_key_variants.key is 'The key it comes from (a phone_norm or plate_norm of canon.drivers_index).';

/*
 * The near-key pairs of a running recovery: the plan finds them (the lead's
 * variants joined to the drivers', the edit and the name checked), puts their
 * drivers into the components, and the batch reads them: a batch never uses a
 * pair its plan did not see, so batches still share nothing. Unlogged, like the
 * queue: a work list of running runs. Keyed by the lead first: a batch reads its
 * leads' pairs.
 */
create unlogged table ops.recovery_near_pairs (
  run_id bigint not null,
  lead_id text not null,
  rule_no integer not null,
  driver_id text not null,
  key_level text not null check (key_level in ('look_alike', 'one_edit')),
  primary key (lead_id, run_id, rule_no, driver_id)
);
comment on table ops.recovery_near_pairs is 'One row per lead of a running recovery run and driver whose phone or plate is one edit from the lead''s with the name agreeing (rules R4_PLATE_NEAR, R5_PHONE_NEAR), found by ops.plan_near_pairs; read by the run''s batches. Unlogged: a work list of running runs.';
comment on column ops.recovery_near_pairs.run_id is 'ops.job_runs.id of the run.';
comment on column ops.recovery_near_pairs.lead_id is 'The lead (lead_id).';
comment on column ops.recovery_near_pairs.rule_no is 'The rule''s priority in ops.match_rules: 4 (R4_PLATE_NEAR) or 5 (R5_PHONE_NEAR).';
comment on column ops.recovery_near_pairs.driver_id is 'The driver whose key is near.';
comment on column ops.recovery_near_pairs.key_level is 'look_alike (one substitution of look-alike characters) or one_edit (another substitution, or an adjacent swap).';

/*
 * Fellegi-Sunter weights: per compared field and level, m = P(level | the pair
 * is the same person) and u = P(level | it is not), weight = log2(m / u).
 * The row (prior, any) holds the prior match probability of a lead-driver pair
 * (its weight is the prior log-odds). Seeded with defaults so a fresh database
 * scores before any estimate; ops.estimate_match_weights (idgap
 * estimate-weights) estimates them from the data.
 */
create table ops.match_weights (
  field text not null check (field in ('prior', 'phone', 'plate', 'name', 'hire_date', 'park')),
  level text not null check (level in ('any', 'exact', 'look_alike', 'one_edit', 'different', 'missing')),
  m numeric not null check (m > 0 and m <= 1),
  u numeric not null check (u > 0 and u <= 1),
  weight numeric generated always as (round(ln(m / u) / ln(2.0), 4)) stored,
  method text not null check (method in ('default', 'estimated')),
  m_pairs bigint,
  u_pairs bigint,
  estimated_at timestamptz not null default now(),
  primary key (field, level)
);
comment on table ops.match_weights is 'One row per compared field and level of the Fellegi-Sunter score of near-key candidates (docs/matching-rules.md, section 6), plus (prior, any): m, u and the weight log2(m/u). Re-estimated by ops.estimate_match_weights.';
comment on column ops.match_weights.field is 'phone, plate, name (tokens), hire_date (distance to the lead date), park (the target park); prior for the prior match probability.';
comment on column ops.match_weights.level is 'exact, look_alike, one_edit, different or missing (any for the prior). hire_date: exact = inside the rule R3 window; park: exact = the target park.';
comment on column ops.match_weights.m is 'P(level | same person); for the prior, the prior probability that a lead-driver pair is the same person.';
comment on column ops.match_weights.u is 'P(level | different persons); for the prior, 1 - m.';
comment on column ops.match_weights.weight is 'log2(m / u), in bits: what the level adds to the pair''s log-odds.';
comment on column ops.match_weights.method is 'default (seeded by the migration) or estimated (ops.estimate_match_weights).';
comment on column ops.match_weights.m_pairs is 'How many linked pairs m was estimated from (null for a default).';
comment on column ops.match_weights.u_pairs is 'How many random pairs u was estimated from (null for a default).';
comment on column ops.match_weights.estimated_at is 'When m and u were set.';

/* Defaults near what ops.estimate_match_weights finds on generated data (20,000 leads and drivers), the prior for about
   a million drivers; hire_date is given a little weight (generated hire dates carry none, a fleet's do). */
insert into ops.match_weights (field, level, m, u, method) values
  ('prior', 'any', 0.000001, 0.999999, 'default'),
  ('phone', 'exact', 0.9, 0.000001, 'default'),
  ('phone', 'one_edit', 0.03, 0.00001, 'default'),
  ('phone', 'different', 0.07, 0.999989, 'default'),
  ('phone', 'missing', 1, 1, 'default'),
  ('plate', 'exact', 0.95, 0.000001, 'default'),
  ('plate', 'look_alike', 0.01, 0.000002, 'default'),
  ('plate', 'one_edit', 0.03, 0.00001, 'default'),
  ('plate', 'different', 0.01, 0.999987, 'default'),
  ('plate', 'missing', 1, 1, 'default'),
  ('name', 'exact', 0.75, 0.00005, 'default'),
  ('name', 'one_edit', 0.08, 0.0002, 'default'),
  ('name', 'different', 0.17, 0.99975, 'default'),
  ('name', 'missing', 1, 1, 'default'),
  ('hire_date', 'exact', 0.6, 0.2, 'default'),
  ('hire_date', 'different', 0.4, 0.8, 'default'),
  ('hire_date', 'missing', 1, 1, 'default'),
  ('park', 'exact', 0.5, 0.125, 'default'),
  ('park', 'different', 0.5, 0.875, 'default'),
  ('park', 'missing', 1, 1, 'default');

insert into ops.settings (key, value, value_type, description) values
  ('near_keys_enabled', '1', 'integer', 'Near-key rules R4_PLATE_NEAR, R5_PHONE_NEAR, R6_NAME_NEAR_PLATE: 1 on, 0 off (the exact rules only).'),
  ('match_link_threshold', '90', 'integer', 'A near-key candidate scoring at or above this match_score (0-100, round(100 x match probability)) links, when no other person comes within near_ambiguity_margin of it.'),
  ('match_review_threshold', '20', 'integer', 'A near-key candidate scoring at or above this, below match_link_threshold, sends the lead to review (REVIEW_BAND); below it, nothing.'),
  ('match_high_confidence_threshold', '99', 'integer', 'A near-key link scoring at or above this gets confidence_level HIGH; between match_link_threshold and it, MEDIUM.'),
  ('near_ambiguity_margin', '6', 'numeric', 'Bits: a near-key candidate of another person whose total weight is within this many bits of the best one''s makes the lead ambiguous (MULTIPLE_CANDIDATES), never a link.');

grant select on canon.near_keys, canon.near_key_variants to idgap_worker;
grant select, insert, update, delete on ops.recovery_near_pairs, ops.match_weights to idgap_worker;
grant select on ops.match_weights to idgap_reader;
