--! Previous: sha1:56b80719b8829c8cb1b0ea4cf79d52913d2dfac7
--! Hash: sha1:3e57a3c13609a1f60ff07fac53e2c4863e2f56d8
--! Message: least-privilege roles idgap_worker, idgap_reader, idgap_api

/*
 * Three NOLOGIN roles, granted to the login roles of each deployment
 * (`grant idgap_worker to idgap_prod_worker`), or assumed per request with
 * `set local role` by a connection that is a member:
 *   idgap_worker  runs the tasks: reads the raw inputs, writes canon and ops, uses the queue
 *   idgap_reader  reads the ops views (no names, phones or plates in them), the run ledger and the history
 *   idgap_api     idgap_reader plus queuing jobs through graphile_worker.add_job
 * Roles are cluster-wide, so they are created only when missing. Their
 * privileges are granted by ops.apply_grants() (sql/ops/functions/apply_grants.sql),
 * which `idgap migrate` runs after the migrations and the sql/ objects, so the
 * grants on views and functions survive those objects being re-created.
 */
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'idgap_worker') then
    create role idgap_worker nologin;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'idgap_reader') then
    create role idgap_reader nologin;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'idgap_api') then
    create role idgap_api nologin;
  end if;
end
$$;
comment on role idgap_worker is 'Runs the idgap tasks: reads the raw inputs, writes canon and ops, takes and queues Graphile jobs.';
comment on role idgap_reader is 'Reads the ops views, the run ledger and the gap history; no raw personal data.';
comment on role idgap_api is 'idgap_reader plus queuing jobs through graphile_worker.add_job (the HTTP API).';
