import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Config } from '../config.js';
import type { Log } from '../log.js';
import { isConnectionError } from '../recovery.js';
import { ApiError } from './http.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerGapRoutes } from './routes/gaps.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerReviewRoutes } from './routes/review.js';

export interface ApiOptions {
  pool: pg.Pool;
  config: Config;
  log: Log;
}

/*
 * Every response, errors and 404s included: scripts, styles and requests only
 * from this origin (no inline script, so the dashboard's JS and CSS are files),
 * no framing, no MIME sniffing, no referrer.
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** The HTTP API and dashboard (docs/api.md). Routes are registered by the modules of src/api/routes. */
export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.log.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  app.addHook('onRequest', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
    // API answers are live data; the dashboard's static assets set their own cache-control.
    reply.header('cache-control', 'no-store');
  });

  app.setErrorHandler((error: FastifyError | ApiError, req, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.statusCode).send({ error: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (body too large, bad JSON, wrong content type): their messages are safe to show.
      const code = status === 400 ? 'bad_request' : status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'client_error';
      return reply.code(status).send({ error: code, message: error.message });
    }
    /* The database is gone (restart, network): a temporary condition for the caller, not a bug of the server. */
    if (isConnectionError(error)) {
      req.log.warn({ event: 'api.database_unavailable', method: req.method, url: req.url, error: error.message }, `database unreachable: ${error.message}`);
      return reply.code(503).header('retry-after', '5').send({ error: 'unavailable', message: 'database unreachable; try again shortly' });
    }
    req.log.error({ event: 'api.error', method: req.method, url: req.url, error: error.message, stack: error.stack }, `request failed: ${error.message}`);
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  app.get('/healthz', async (_req, reply) => {
    try {
      await opts.pool.query('select 1');
      return { status: 'ok' };
    } catch (e) {
      opts.log.warn({ event: 'api.healthz_failed', error: (e as Error).message }, 'healthz: database unreachable');
      return reply.code(503).send({ status: 'unavailable', message: 'database unreachable' });
    }
  });

  registerGapRoutes(app, opts);
  registerJobRoutes(app, opts);
  registerMetricsRoutes(app, opts);
  registerReviewRoutes(app, opts);
  registerDashboardRoutes(app);
  return app;
}

export async function startApi(opts: ApiOptions): Promise<FastifyInstance> {
  const app = await buildApi(opts);
  await app.listen({ host: opts.config.API_HOST, port: opts.config.API_PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.config.API_PORT;
  opts.log.info({ event: 'api.started', host: opts.config.API_HOST, port, writes_enabled: opts.config.API_TOKEN !== undefined }, `API and dashboard on http://${opts.config.API_HOST}:${port}/`);
  return app;
}
