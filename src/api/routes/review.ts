import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { reviewDecisionSchema } from '../../payloads.js';
import { decideReview, readReviewPage, ReviewRefused } from '../../review.js';
import type { ApiOptions } from '../server.js';
import { ApiError, badRequest, describeParamError, pageMeta, pagination, parseParams, requireToken } from '../http.js';

const leadId = z.string().min(1, { message: 'must not be empty' }).max(200, { message: 'must be at most 200 characters' });

export const reviewQuerySchema = z.object({ ...pagination, lead_id: leadId.optional() }).strict();
const decisionParamsSchema = z.object({ lead_id: leadId }).strict();

const REFUSED_STATUS: Record<ReviewRefused['kind'], { status: number; code: string }> = {
  invalid: { status: 400, code: 'bad_request' },
  not_found: { status: 404, code: 'not_found' },
  conflict: { status: 409, code: 'conflict' },
  busy: { status: 409, code: 'recovery_running' },
};

/**
 * The review queue (docs/api.md, "Review"). Both endpoints need the API token: the queue carries names and plates.
 * The API's role has no right on the queue view nor on canon: it reads through ops.review_queue_page and decides
 * through ops.review_decide (security definer both).
 */
export function registerReviewRoutes(app: FastifyInstance, { pool, config }: ApiOptions): void {
  const auth = requireToken(config);

  app.get('/api/v1/ops/identity-review', { preHandler: auth }, async (req) => {
    const q = parseParams(reviewQuerySchema, req.query);
    const page = await readReviewPage(pool, { page: q.page, pageSize: q.page_size, leadId: q.lead_id });
    return { items: page.items, meta: pageMeta(q.page, q.page_size, page.total_leads) };
  });

  app.post('/api/v1/ops/identity-review/:lead_id/decisions', { preHandler: auth }, async (req, reply) => {
    const { lead_id } = parseParams(decisionParamsSchema, req.params);
    if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
      throw badRequest('body: a JSON object {"driver", "decision", "reviewer", "note"} is required (Content-Type: application/json)');
    }
    const parsed = reviewDecisionSchema.safeParse(req.body);
    if (!parsed.success) throw badRequest(describeParamError(parsed.error));
    const d = parsed.data;
    try {
      const r = await decideReview(pool, { leadId: lead_id, driverId: d.driver, decision: d.decision, reviewer: d.reviewer, note: d.note });
      req.log.info({ event: 'api.review_decided', lead_id, driver_id: d.driver, decision: d.decision, decision_id: r.decision_id }, `review ${d.decision} through the API`);
      return reply.code(201).send(r);
    } catch (e) {
      if (!(e instanceof ReviewRefused)) throw e;
      const { status, code } = REFUSED_STATUS[e.kind];
      if (e.kind === 'busy') reply.header('retry-after', '5');
      throw new ApiError(status, code, e.message, e.hint);
    }
  });
}
