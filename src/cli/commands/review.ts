import type { Command } from 'commander';
import { describeArgumentError, printJson, UserError, withContext } from '../context.js';

/** Refusals of ops.review_decide are the user's to fix: said as one line, with the function's hint. */
async function decide(lead: string, driver: string, decision: 'accept' | 'reject', opts: { reviewer?: string; note?: string; json?: boolean }) {
  const [{ reviewDecisionSchema }, { decideReview, ReviewRefused }, os] = await Promise.all([
    import('../../payloads.js'),
    import('../../review.js'),
    import('node:os'),
  ]);
  let reviewer = opts.reviewer;
  if (reviewer === undefined) {
    try {
      reviewer = os.userInfo().username;
    } catch {
      // No passwd entry for this uid (some containers): the login name the shell exported, if any.
      reviewer = process.env.USER ?? process.env.USERNAME ?? '';
    }
  }
  const given = { driver, decision, reviewer, note: opts.note };
  const parsed = reviewDecisionSchema.safeParse(given);
  if (!parsed.success) throw new UserError(describeArgumentError(parsed.error, { driver: 'DRIVER', reviewer: '--reviewer', note: '--note' }, given));
  await withContext({}, async ({ pool }) => {
    try {
      const r = await decideReview(pool, { leadId: lead, driverId: parsed.data.driver, decision, reviewer: parsed.data.reviewer, note: parsed.data.note });
      if (opts.json) printJson(r);
      else if (r.decision === 'accept')
        process.stdout.write(
          `accepted: lead ${r.lead_id} linked to driver ${r.driver_id}'s person ${r.person_key}${r.person_created ? ' (created)' : ''}; ` +
            `job row ${r.job_status}, origin ${r.origin_source_id}; decision ${r.decision_id} by ${parsed.data.reviewer}\n`,
        );
      else process.stdout.write(`rejected: lead ${r.lead_id} and driver ${r.driver_id} will never be linked nor proposed again; decision ${r.decision_id} by ${parsed.data.reviewer}\n`);
    } catch (e) {
      if (e instanceof ReviewRefused) throw new UserError(`${e.message}${e.hint ? ` (${e.hint})` : ''}`);
      throw e;
    }
  });
}

export function registerReview(program: Command): void {
  const review = program
    .command('review')
    .description('the review queue: leads the rules left with candidates, compared side by side, accepted or rejected by a person');

  review
    .command('list')
    .description('the leads in the review queue and their best candidate')
    .option('--limit <n>', 'how many leads to list (1-1000)', '20')
    .option('--json', 'print the leads with all their candidates as JSON on stdout')
    .action(async (opts: { limit: string; json?: boolean }) => {
      const [{ wholeNumber }, { readReviewPage, renderReviewList }] = await Promise.all([import('../../payloads.js'), import('../../review.js')]);
      const limit = wholeNumber(1, 1000).safeParse(opts.limit);
      if (!limit.success) throw new UserError(`--limit ${limit.error.issues[0]!.message} (got ${JSON.stringify(opts.limit)})`);
      await withContext({}, async ({ pool }) => {
        const page = await readReviewPage(pool, { page: 1, pageSize: limit.data });
        if (opts.json) printJson(page);
        else process.stdout.write(renderReviewList(page));
      });
    });

  review
    .command('show')
    .description('one lead and its candidates side by side, agreeing (=) and disagreeing (≠) fields marked')
    .argument('<lead>', 'the lead_id')
    .option('--json', 'print the lead and its candidates as JSON on stdout')
    .action(async (lead: string, opts: { json?: boolean }) => {
      const { readReviewPage, renderReviewLead } = await import('../../review.js');
      await withContext({}, async ({ pool }) => {
        const page = await readReviewPage(pool, { page: 1, pageSize: 1, leadId: lead });
        const item = page.items[0];
        if (item === undefined) throw new UserError(`lead ${lead} is not in the review queue (linked, unknown, or left without a candidate)`);
        if (opts.json) printJson(item);
        else process.stdout.write(renderReviewLead(item));
      });
    });

  for (const decision of ['accept', 'reject'] as const) {
    review
      .command(decision)
      .description(
        decision === 'accept'
          ? "link the lead to the driver's person (MANUAL_REVIEW; the person is created when the driver has none)"
          : 'never link the lead and the driver, nor propose them again',
      )
      .argument('<lead>', 'the lead_id')
      .argument('<driver>', 'the candidate driver_id')
      .option('--reviewer <name>', 'who decides, recorded with the decision (default: the OS user)')
      .option('--note <text>', 'a note recorded with the decision')
      .option('--json', 'print the decision as JSON on stdout')
      .action(async (lead: string, driver: string, opts: { reviewer?: string; note?: string; json?: boolean }) => decide(lead, driver, decision, opts));
  }
}
