import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { UserError, withContext } from '../context.js';
import type { SupervisedWorker } from '../../worker.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the worker (tasks and crontab) and the HTTP API with the dashboard until SIGINT/SIGTERM')
    .option('--worker-only', 'run only the worker')
    .option('--api-only', 'run only the HTTP API and dashboard')
    .option('--no-cron', 'run the worker without the crontab')
    .action(async (opts: { workerOnly?: boolean; apiOnly?: boolean; cron: boolean }) => {
      if (opts.workerOnly && opts.apiOnly) throw new UserError('--worker-only and --api-only exclude each other');
      const [{ createPool }, { startApi }, { requestShutdown }, { superviseWorker }] = await Promise.all([
        import('../../db.js'),
        import('../../api/server.js'),
        import('../../shutdown.js'),
        import('../../worker.js'),
      ]);
      await withContext({ poolSize: 6 }, async ({ config, db, pool, log }) => {
        /* Runs whose process is gone are failed and their Graphile jobs unlocked (retried now, not in 4 h): at start, and every minute. */
        const sweep = async () => {
          const { rows } = await pool.query<{ n: number }>('select ops.fail_abandoned_runs() as n');
          if (rows[0]!.n > 0) log.warn({ event: 'runs.abandoned', runs: rows[0]!.n }, `${rows[0]!.n} abandoned run(s) marked failed; their jobs were unlocked for retry`);
        };
        /* The worker's job (and its rights): an --api-only process, which may log in as idgap_api, does not sweep. */
        let sweeper: NodeJS.Timeout | undefined;
        if (!opts.apiOnly) {
          await sweep();
          sweeper = setInterval(() => void sweep().catch(() => undefined), 60_000);
          sweeper.unref();
        }
        let runner: SupervisedWorker | undefined;
        let api: FastifyInstance | undefined;
        if (!opts.apiOnly) runner = await superviseWorker({ connectionString: db.connectionString, concurrency: config.WORKER_CONCURRENCY, log, noCron: !opts.cron });
        /* The API's connections run as API_DB_ROLE (idgap_api: the ops views, the ledger, queueing jobs; no raw personal data). */
        const apiPool = opts.workerOnly ? undefined : createPool(db.connectionString, 6, 'idgap-api', config.API_DB_ROLE || undefined);
        if (apiPool) api = await startApi({ pool: apiPool, config, log });

        /* Graceful shutdown: stop taking requests and jobs, let the running batch commit, then stop the database. */
        await new Promise<void>((resolve) => {
          let stopping = false;
          const stop = (signal: string) => {
            if (stopping) {
              log.warn({ event: 'shutdown.forced', signal }, 'second signal: exiting now');
              process.exit(130);
            }
            stopping = true;
            requestShutdown();
            log.info({ event: 'shutdown.started', signal }, `${signal} received: finishing the work in flight`);
            void (async () => {
              await api?.close().catch(() => undefined);
              await apiPool?.end().catch(() => undefined);
              clearInterval(sweeper);
              await runner?.stop().catch(() => undefined);
              log.info({ event: 'shutdown.finished' }, 'stopped cleanly');
              resolve();
            })();
          };
          process.once('SIGINT', () => stop('SIGINT'));
          process.once('SIGTERM', () => stop('SIGTERM'));
        });
      });
    });
}
