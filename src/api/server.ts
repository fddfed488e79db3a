import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Config } from '../config.js';
import type { Log } from '../log.js';

export interface ApiOptions {
  pool: pg.Pool;
  config: Config;
  log: Log;
}

/** The HTTP API and dashboard (SPEC 5.4, 8). Routes are registered by the modules of src/api/routes. */
export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.log.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    disableRequestLogging: true,
  }) as unknown as FastifyInstance;
  app.get('/healthz', async (_req, reply) => {
    try {
      await opts.pool.query('select 1');
      return { status: 'ok' };
    } catch (e) {
      return reply.code(503).send({ status: 'unavailable', message: (e as Error).message });
    }
  });
  return app;
}

export async function startApi(opts: ApiOptions): Promise<FastifyInstance> {
  const app = await buildApi(opts);
  await app.listen({ host: opts.config.API_HOST, port: opts.config.API_PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.config.API_PORT;
  opts.log.info({ event: 'api.started', host: opts.config.API_HOST, port }, `API and dashboard on http://${opts.config.API_HOST}:${port}/`);
  return app;
}
