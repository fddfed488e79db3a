--! Previous: sha1:a16f33222b63147d8ee02f7e31e95bc7b1fbdef1
--! Hash: sha1:4a3fc9423b9c64d6ea8f18df97f04a971640f82d
--! Message: match rule reference once a statement

/*
 * The reference of match_rule to the rule catalogue on the two tables a
 * recovery batch writes by the thousand (canon.identity_links,
 * ops.identity_matching_jobs) is checked once a statement instead of once a
 * row: the foreign keys' per-row checks cost 40-50 ms of a 700 ms batch at 1M
 * leads on the embedded server (about 9 s of a run). The statement triggers
 * ops.check_match_rule_refs (after insert and update, on each table) and
 * ops.match_rule_in_use (before delete, update and truncate of
 * ops.match_rules) take their place, in sql/ops/functions/, applied right
 * after this migration: the same refusals, with the same SQLSTATE 23503.
 */
alter table canon.identity_links drop constraint if exists identity_links_match_rule_fkey;
alter table ops.identity_matching_jobs drop constraint if exists identity_matching_jobs_match_rule_fkey;
