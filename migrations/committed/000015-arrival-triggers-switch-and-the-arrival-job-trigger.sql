--! Previous: sha1:2e7e69551e5a12ac4ada795067fc9c75fce558af
--! Hash: sha1:046f2c1a80533212c6b19e240c7e940412433cb9
--! Message: recovery as data arrives: the queuing switch, the batching delay, and the arrival trigger of queued jobs

/*
 * Recovery as data arrives (issue 17). The triggers on the raw tables
 * (sql/ops/functions/record_lead_changes.sql, record_driver_changes.sql)
 * append to the work lists of migration 000011 and NOTIFY idgap_arrivals; the
 * worker's listener queues one recover_arrivals job per batching window. The
 * switch below turns off the QUEUING only: the changes are always recorded.
 */
insert into ops.settings (key, value, value_type, description) values
  ('arrival_enqueue_enabled', 'on', 'text',
   'on: a change recorded in ops.lead_changes / ops.driver_changes queues a recover_arrivals job (worker listener and sweep). off (bulk loads): the changes are still recorded, no job is queued until it is on again. A session can turn it off for itself alone: set idgap.arrival_enqueue = off (idgap import does).'),
  ('arrival_batch_delay_ms', '1000', 'integer',
   'Batching window of recovery as data arrives: the recover_arrivals job runs this many milliseconds after the first change of a burst (job_key_mode preserve_run_at), so a burst of 10,000 inserts makes one job.'),
  ('arrival_sweep_interval_ms', '5000', 'integer',
   'How often the worker checks the work lists for changes older than the batching window with no job queued (notifications lost while the worker was down or skipped because a job was waiting when it started, add_job returning null under contention), and queues one.')
on conflict (key) do nothing;

/* A job queued for recovery as data arrives is recorded with trigger arrival (ops.job_triggers, then ops.job_runs). */
alter table ops.job_triggers drop constraint job_triggers_trigger_check;
alter table ops.job_triggers add constraint job_triggers_trigger_check check (trigger in ('sql', 'cli', 'api', 'arrival'));
comment on column ops.job_triggers.trigger is 'sql (ops.enqueue_recovery or another SQL caller), cli, api (the HTTP API through ops.enqueue_from_api) or arrival (ops.queue_arrivals: data arrived in the work lists).';
alter table ops.job_runs drop constraint job_runs_trigger_check;
alter table ops.job_runs add constraint job_runs_trigger_check check (trigger in ('cron', 'sql', 'cli', 'api', 'arrival'));
comment on column ops.job_runs.trigger is 'cron, sql (graphile_worker.add_job by hand), cli, api, or arrival (queued because data arrived in the work lists).';

/*
 * A recover_arrivals run that failed (its process was killed, or it lost its
 * connection) after taking the work lists leaves rows taken by it but leads not
 * processed: the retried job takes them again (ops.plan_arrivals) through these
 * indexes. Partial: the rows a trigger inserts (run_id null) cost nothing here.
 */
create index lead_changes_run_id_idx on ops.lead_changes (run_id) where run_id is not null;
create index driver_changes_run_id_idx on ops.driver_changes (run_id) where run_id is not null;
