/*
 * The one definition of a job row that waits for new evidence: pending (in its
 * backoff or already due) or failed. These are the rows a changed driver may
 * re-open (ops.refresh_lead_keys keeps their keys,
 * ops.reopen_leads_for_changed_drivers makes them due now and hands them to the
 * incremental run's plan). A pending row already due counts too: left out, a
 * driver arriving for it was not planned by the incremental run and its lead
 * waited for the next full run (the arrival benchmark: 100 of 1,000 such leads,
 * made due by an earlier refresh, not linked after 60 s). One expression:
 * inlined.
 */
create or replace function ops.job_waits(p_status text)
returns boolean
language sql
immutable
parallel safe
as $$
  select p_status in ('pending', 'failed')
$$;
comment on function ops.job_waits(text) is 'True for a job row that waits for new evidence: pending (in backoff or due) or failed; what a changed driver may re-open.';
