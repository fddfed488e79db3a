--! Previous: sha1:d1934de779bd0d69188fb03931c67f2cb422ae12
--! Hash: sha1:414cae6fff8d685f406823e8485034adfa01fd08
--! Message: recovery queue unlogged, with has_job

/*
 * The recovery queue is a running run's work list, rebuilt by every run's plan:
 *
 * - UNLOGGED. A run's queue rows are written once by ops.plan_recovery and
 *   deleted by its batches; nothing survives a run (ops.finish_run clears what
 *   is left, ops.plan_recovery clears the rows of runs no longer running), and a
 *   server crash ends every run anyway (ops.fail_abandoned_runs marks them
 *   failed; the next run plans again from the gap). Unlogged, the 1M-lead plan
 *   writes no WAL for its queue (3.0 -> 2.4 s at 1M) and the batches none for
 *   their deletes. After a crash the table is empty, which is what a queue of
 *   failed runs should be.
 * - has_job: whether the lead had a job row when the run planned it. The batch
 *   reads the job row only for those (a first run probed the job index for each
 *   of its leads and found nothing: ~3.5 us a lead, ~17 ms a 5,000-lead batch at
 *   1M). A job row written meanwhile for a lead planned without one makes the
 *   batch's plain insert fail; it reads the job rows again and writes once more,
 *   as before. Rows queued without it (by hand) are read as before (default true).
 */
alter table ops.recovery_queue add column if not exists has_job boolean not null default true;
comment on column ops.recovery_queue.has_job is 'Whether the lead had a row in ops.identity_matching_jobs when the run planned it: the batch reads the job row only then (a row written meanwhile is found by the batch''s insert and read again).';
alter table ops.recovery_queue set unlogged;
comment on table ops.recovery_queue is 'One row per lead selected by a running recovery run and not yet processed (deleted by the batch that processes it). Unlogged: a work list of running runs, empty after a server crash, when those runs are failed anyway.';
