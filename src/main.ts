import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { buildApp } from './app.js';
import { BlobgateError } from './errors.js';
import { gateLimits, TransferGate } from './http/transfer-gate.js';
import { ConfigError, loadConfig, sha256Hex } from './config/load.js';
import { isLoopbackHost } from './config/listen.js';
import { Metrics, startMetricsListener, type MetricsListener } from './http/metrics.js';
import type { Config } from './config/types.js';
import { EmbeddedSecrets } from './secrets/provider.js';
import { installLifecycles } from './storage/lifecycle.js';
import { cleanupLogLine } from './storage/janitor.js';
import { StoreRegistry } from './storage/registry.js';
import { GoogleTokenSource } from './upstream/google-token.js';
import { UpstreamGuard } from './upstream/guard.js';
import { jobEngineFor } from './jobs/build.js';
import type { JobEngine } from './jobs/engine.js';
import { sweepExpiredShares } from './shares/share-store.js';
import { sweepSidecars } from './persist/search-sidecar.js';

/**
 * `npm start`: the embedded default needs no configuration — both tiers on
 * the local store under ./.blobgate/, a dev API token generated (and kept in
 * .blobgate/dev-token so it survives restarts) and printed with a curl example.
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // A generated token printed to stdout would end up in container logs: off loopback, the operator sets one.
  if (config.tokens.length === 0 && !isLoopbackHost(config.host)) refuseWithoutToken(config.host);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const signingSecret = config.signing.secret ?? (await persistentSecret(join(config.dataDir, 'signing-secret')));
  let devToken: string | undefined;
  if (config.tokens.length === 0) {
    devToken = await persistentSecret(join(config.dataDir, 'dev-token'));
    config = { ...config, tokens: [{ sha256: sha256Hex(devToken), workspaces: ['*'] }] };
  }
  const stores = await StoreRegistry.open(config);
  const guard = new UpstreamGuard(config.upstream.allow);
  const secrets = new EmbeddedSecrets(config.secrets.file);
  const gate = new TransferGate(gateLimits(config.limits));
  const metrics = new Metrics(gate, stores);
  // The job engine logs through the app's logger, which exists once the app does.
  let log: FastifyBaseLogger | undefined;
  const jobs = jobEngineFor(config, stores, { log: () => log, guard, secrets });
  const app = buildApp({ config, stores, guard, secrets, google: new GoogleTokenSource(guard), signingSecret, gate, metrics, jobs });
  log = app.log;
  await installLifecycles(config, stores, (msg) => app.log.info(msg));
  // Each store's janitor: a log line per failed cleanup, recovery and sweep; then the sweep of what a crashed process left.
  stores.onCleanupEvent((e) => {
    const line = cleanupLogLine(e);
    app.log[line.level](line.fields, line.msg);
  });
  stores.startJanitors();
  const sweeper = startExpirySweep(config, stores, jobs, config.expiry.sweepIntervalSeconds, app.log);

  /**
   * Graceful shutdown: stop accepting, let in-flight transfers finish until
   * the deadline, abort the rest (each cleans up its write: no temp file,
   * multipart upload or session is left), then close the stores and exit 0.
   */
  let shuttingDown = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    app.log.info({ signal, inFlight: gate.active, queued: gate.queued }, 'shutting down');
    clearInterval(sweeper);
    gate.close();
    // Jobs still running at the deadline end as lost, so their idempotency keys may run them again elsewhere.
    const jobsClosed = jobs.close(config.shutdown.deadlineSeconds * 1000);
    const closed = app.close();
    const deadline = new Promise<'deadline'>((r) => setTimeout(() => r('deadline'), config.shutdown.deadlineSeconds * 1000).unref());
    if ((await Promise.race([gate.idle().then(() => 'idle' as const), deadline])) === 'deadline') {
      app.log.warn({ inFlight: gate.active }, 'shutdown deadline reached: aborting the transfers still running');
      gate.abortAll(new BlobgateError('aborted', 'blobgate is shutting down; the transfer was aborted and nothing was stored. Retry it.'));
      await gate.idle();
    }
    await jobsClosed;
    app.server.closeIdleConnections();
    // Downloads (content, signed URLs) are not transfers of the gate: they get a short grace, then are cut.
    const grace = new Promise<'grace'>((r) => setTimeout(() => r('grace'), 2000).unref());
    if ((await Promise.race([closed.then(() => 'closed' as const), grace])) === 'grace') app.server.closeAllConnections();
    await closed;
    await metricsListener?.close();
    await guard.close();
    await stores.close();
    process.exit(0);
  };
  let metricsListener: MetricsListener | undefined;
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  metricsListener = await openMetricsListener(config, metrics, guard, app.log);
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (devToken) printWelcome(base, devToken, config);
}

/**
 * The separate metrics listener (metrics.listen), opened before the API
 * listener so the guard refuses its address before the first step arrives.
 */
async function openMetricsListener(config: Config, metrics: Metrics, guard: UpstreamGuard, log: FastifyBaseLogger): Promise<MetricsListener | undefined> {
  if (!config.metrics.listen) return undefined;
  const listener = await startMetricsListener(metrics, config.metrics.listen, config.metrics.tokenSha256);
  guard.ownListeners([listener.address]);
  log.info({ address: listener.address.address, port: listener.address.port }, 'metrics listening');
  return listener;
}

function refuseWithoutToken(host: string): never {
  process.stderr.write(
    `blobgate will not listen on ${host} without an API token: anyone who can reach that address could use it.\n` +
      '  Set BLOBGATE_TOKEN (at least 16 characters, or env:NAME / file:PATH naming a variable or file holding it),\n' +
      '  or "tokens" in the config file. Without a token blobgate only listens on loopback (BLOBGATE_HOST=127.0.0.1),\n' +
      '  where it generates a dev token.\n',
  );
  process.exit(2);
}

/** Deletes expired records and search-index sidecars no blob trusts, and expired ephemeral blobs from stores that cannot expire them natively (the local store). */
function startExpirySweep(config: Config, stores: StoreRegistry, jobs: JobEngine, seconds: number, log: FastifyBaseLogger): NodeJS.Timeout {
  const sweep = async (): Promise<void> => {
    try {
      const removed = await jobs.sweepExpired();
      const shares = stores.get(config.tiers.retained.store).records;
      const sharesRemoved = shares ? await sweepExpiredShares(shares) : 0;
      if (removed + sharesRemoved > 0) log.info({ removed: removed + sharesRemoved }, 'expired job, idempotency and share records removed');
    } catch (err) {
      log.warn({ err }, 'record expiry sweep failed');
    }
    for (const [name, driver] of stores.entries()) {
      // Search-index sidecars no blob trusts (a crash, an overwrite, an expiry), past the janitor's grace.
      try {
        const removed = await sweepSidecars(driver, new Date(Date.now() - config.janitor.graceSeconds * 1000));
        if (removed > 0) log.info({ store: name, removed }, 'orphan search-index sidecars removed');
      } catch (err) {
        log.warn({ err, store: name }, 'search-index sidecar sweep failed');
      }
      if (!driver.sweepExpired) continue;
      try {
        const removed = await driver.sweepExpired(Date.now());
        if (removed > 0) log.info({ store: name, removed }, 'expired blobs removed');
      } catch (err) {
        log.warn({ err, store: name }, 'expiry sweep failed');
      }
    }
  };
  const timer = setInterval(() => void sweep(), Math.max(1, seconds) * 1000);
  timer.unref();
  if (seconds === 0) clearInterval(timer);
  return timer;
}

/** A random secret kept in a file readable only by its owner, created on first use. */
async function persistentSecret(path: string): Promise<string> {
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch {
    // first start: create it below
  }
  const secret = randomBytes(32).toString('base64url');
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function printWelcome(base: string, token: string, config: Config): void {
  const lines = [
    '',
    `blobgate is listening on ${base}`,
    `  stores: ${Object.entries(config.stores).map(([n, s]) => `${n} (${s.driver})`).join(', ')} under ${config.dataDir}`,
    `  dev API token (all workspaces; kept in ${join(config.dataDir, 'dev-token')}):`,
    `    ${token}`,
    '',
    'Try it: persist a response into the ephemeral tier of workspace ws-demo',
    `  curl -s -X POST ${base}/v1/workspaces/ws-demo/http \\`,
    `    -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\`,
    `    -d '{"flow-slug":"demo","step-id":"fetch","request":{"url":"https://example.com/"},"persist":{"type":"blob","tier":"ephemeral"}}'`,
    '',
  ];
  // stderr: stdout is the JSON log stream (one object a line, for a log shipper); this text is for the person at the terminal.
  process.stderr.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`blobgate failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
