--! Previous: sha1:3e57a3c13609a1f60ff07fac53e2c4863e2f56d8
--! Hash: sha1:d1934de779bd0d69188fb03931c67f2cb422ae12
--! Message: recovery writes without unused indexes and the history foreign key

/*
 * Rows the recovery writes a million times, without what no reader uses
 * (a 1M-lead recovery writes ~870,000 origins and as many history rows):
 *
 * The origin history is an append-only record of origin changes: it keeps no
 * foreign key to the person registry. The key cost a check per history row
 * (about 4 us each), and a record of what changed should outlive the person it
 * describes rather than vanish with it.
 *
 * No query looks origins up by their source id (the gap joins from the origin
 * to the source's link, never the other way), nor job rows up by their last
 * attempt (readers filter on status or join by lead): those indexes only cost
 * an insert per origin and per job row.
 */
alter table canon.identity_origin_history drop constraint if exists identity_origin_history_person_key_fkey;
comment on column canon.identity_origin_history.person_key is 'The person whose origin changed (no foreign key: the history is kept even if the person is deleted).';
drop index if exists canon.identity_origin_source_idx;
drop index if exists ops.identity_matching_jobs_last_attempt_idx;
