--! Previous: sha1:d1285d7deca96581eaaf232f345142a38cc19dce
--! Hash: sha1:2e7e69551e5a12ac4ada795067fc9c75fce558af
--! Message: the manual review rule and the review lock wait

/*
 * MANUAL_REVIEW was reserved by 000010. It is now the rule of a link a
 * reviewer accepted (ops.review_decide): a person compared the lead and the
 * driver side by side and decided, so the link scores 100 and is HIGH, like a
 * driver's link to its own person. The candidate's own score as the engine saw
 * it is kept in the link's evidence ("review" -> "shown" -> "score"). It stays
 * of kind 'review' with no priority: no matching rule proposes it, and the
 * recovery never writes it.
 */
update ops.match_rules
set score = 100,
    confidence_level = 'HIGH',
    description = 'A lead a reviewer linked to a candidate driver''s person (ops.review_decide accept): score 100, HIGH, since a person decided; the candidate''s score and evidence as shown and the reviewer are in the link''s evidence.'
where match_rule = 'MANUAL_REVIEW';

comment on column ops.match_rules.kind is 'match (a matching rule of the recovery), driver (a driver''s link to the person made for it), manual (by a person, outside the review), repair (origin derived again for a linked lead), review (a lead a reviewer accepted: ops.review_decide).';
comment on column canon.identity_links.match_rule is 'The rule that linked: a row of ops.match_rules (R1_PHONE_EXACT, R3_PLATE_NAME, R3B_PLATE_NAME_ANY_DATE, DRIVER_MATCH, MANUAL, MANUAL_REVIEW).';

/*
 * A review decision takes the recovery lock for its transaction; while a run
 * holds it (for the whole run), a decision waits this long, then is refused
 * with "a recovery run is in progress, try again" instead of blocking an API
 * request or a terminal for minutes.
 */
insert into ops.settings (key, value, value_type, description) values
  ('review_lock_wait_ms', '3000', 'integer', 'How long ops.review_decide waits for the recovery lock (held by a running recovery) before refusing with SQLSTATE 55P03, in milliseconds.')
on conflict (key) do nothing;
