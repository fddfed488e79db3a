--! Previous: sha1:0062edf32b92a5fb25c3f49e83e6efe73b105895
--! Hash: sha1:e9f7936af6ea5f882b714e1cf3b491e69d32774f
--! Message: person reference once a statement

/*
 * The reference of person_key to canon.identity_registry on the two tables a
 * recovery batch writes by the thousand (canon.identity_links: ~4,200 driver
 * and ~4,200 lead links a 5,000-lead batch; canon.identity_origin: ~4,000
 * origins) is checked once a statement instead of once a row: the foreign
 * keys' per-row checks (a query and a key-share lock of the registry row per
 * row) cost 55-60 ms of a 5,000-lead batch at 1M leads on the embedded server,
 * about 12,600 checks a batch. The statement trigger ops.check_refs
 * (after insert and update, on each table; the one function of the match_rule
 * reference too, sql/ops/functions/) and canon.person_in_use (on the
 * registry: before delete or a change of person_key; after truncate;
 * sql/canon/functions/) take their place, applied right after this migration:
 * the same refusals with the same SQLSTATE 23503, and the origin deleted with
 * its person (the origin's "on delete cascade").
 * (canon.identity_origin_history has had no foreign key since 000003.)
 */
alter table canon.identity_links drop constraint if exists identity_links_person_key_fkey;
alter table canon.identity_origin drop constraint if exists identity_origin_person_key_fkey;
