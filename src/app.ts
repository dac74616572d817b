import type { AddressInfo } from 'node:net';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Config } from './config/types.js';
import { requireTokenFor, TokenAuth } from './http/auth.js';
import { frameworkError, installErrorHandling } from './http/error-handler.js';
import { OPENAPI_OPTIONS } from './http/openapi-operations.js';
import { healthRoutes } from './http/routes/health.js';
import { jobRoutes } from './http/routes/jobs.js';
import { jobEngineFor } from './jobs/build.js';
import type { JobEngine } from './jobs/engine.js';
import { listRoutes } from './http/routes/list.js';
import { resourceRoutes } from './http/routes/resources.js';
import { publicPreviewRoutes } from './http/routes/public-previews.js';
import { shareRoutes } from './http/routes/shares.js';
import { signedRoutes } from './http/routes/signed.js';
import { stepRoutes } from './http/routes/step.js';
import { uploadRoutes } from './http/routes/uploads.js';
import { ReadGate } from './http/read-gate.js';
import { gateLimits, TransferGate } from './http/transfer-gate.js';
import { Metrics, metricsHandler } from './http/metrics.js';
import { installRequestLog } from './http/request-log.js';
import { serverTimeouts } from './http/server-timeouts.js';
import { LocalSigner } from './signing/local-signer.js';
import type { SecretsProvider } from './secrets/provider.js';
import type { StoreRegistry } from './storage/registry.js';
import type { GoogleTokenSource } from './upstream/google-token.js';
import type { UpstreamGuard } from './upstream/guard.js';

export interface AppDeps {
  config: Config;
  stores: StoreRegistry;
  guard: UpstreamGuard;
  secrets: SecretsProvider;
  google: GoogleTokenSource;
  signingSecret: string;
  /** The transfer limit; main.ts keeps a handle for graceful shutdown. */
  gate?: TransferGate;
  /** The metrics; main.ts keeps a handle to serve them on a separate listener (metrics.listen). */
  metrics?: Metrics;
  /** The job engine; main.ts keeps a handle for graceful shutdown and the records sweep. */
  jobs?: JobEngine;
  /** Options for the pino logger fastify creates; `false` silences it. */
  logger?: boolean | Record<string, unknown>;
}

const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers["x-api-key"]', '*.secret', '*.token', '*.password'];

/** Builds the HTTP app from ready parts. No I/O here: main.ts (or a test) opens stores and listens. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const { config } = deps;
  const app = Fastify({
    // Secrets are never put in log records; redaction is the second line of defence.
    logger: deps.logger === false ? false : { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' }, ...(typeof deps.logger === 'object' ? deps.logger : {}) },
    bodyLimit: config.limits.requestBodyBytes,
    // Slow clients: headers, whole-request and client-error answers (src/http/server-timeouts.ts).
    ...serverTimeouts(config.server),
    // Unknown fields are errors, never silently dropped; no type coercion of bodies.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allowUnionTypes: true } },
    return503OnClosing: true,
    // Routing errors (a malformed percent-encoding in the path) answer in the catalogue's shape too.
    frameworkErrors: frameworkError,
    // One line per request instead, with what blobgate knows about it (src/http/request-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
  });
  installErrorHandling(app);
  installRequestLog(app);
  const auth = new TokenAuth(config.tokens);
  const gate = deps.gate ?? new TransferGate(gateLimits(config.limits));
  const signer = new LocalSigner(deps.signingSecret, () => config.publicUrl ?? listeningUrl(app, config.host));
  // While shutting down, every answer closes its connection, so keep-alive sockets do not hold the close.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (gate.isClosing) reply.header('connection', 'close');
    return payload;
  });
  const metrics = deps.metrics ?? new Metrics(gate, deps.stores);
  const jobs = deps.jobs ?? jobEngineFor(config, deps.stores, { log: () => app.log, guard: deps.guard, secrets: deps.secrets });
  // Content and signed reads share one limit and one idle timeout (src/http/send-object.ts).
  const send = { reads: new ReadGate(config.limits.reads, config.limits.workspaceReads), idleSeconds: config.server.sendIdleTimeoutSeconds, served: (store: string, n: number) => metrics.servedBytes.inc({ store }, n) };
  // The gateway's own addresses are never an upstream, whatever upstream.allow opens (src/upstream/guard.ts).
  app.addHook('onListen', async () => deps.guard.ownListeners(app.addresses().filter((a): a is AddressInfo => typeof a === 'object')));
  // The OpenAPI document is generated from the route schemas (swagger's onRoute hook sees every
  // route registered after it, so the routes live in a plugin registered next).
  void app.register(swagger, OPENAPI_OPTIONS);
  void app.register(async (root) => {
    // Outside the API token check: the OpenAPI document, health, URLs blobgate signed (the signature is the
    // credential), and metrics, which have their own rule (src/http/metrics.ts).
    root.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    root.get('/metrics', { schema: { hide: true } }, metricsHandler(metrics, config));
    healthRoutes(root, deps);
    signedRoutes(root, { stores: deps.stores, signer, send });
    // Public share previews: the share token is the credential (docs/shares.md).
    publicPreviewRoutes(root, { config, stores: deps.stores, send });
    // Every other route needs the API token, checked before the body is read (src/http/auth.ts).
    void root.register(async (api) => {
      requireTokenFor(api, auth);
      stepRoutes(api, { ...deps, gate, metrics, jobs });
      jobRoutes(api, { jobs, reads: send.reads });
      resourceRoutes(api, { config, stores: deps.stores, signer, metrics, send });
      listRoutes(api, { stores: deps.stores });
      uploadRoutes(api, { config, stores: deps.stores, gate, metrics, jobs });
      shareRoutes(api, { config, stores: deps.stores, baseUrl: () => config.publicUrl ?? listeningUrl(app, config.host) });
    });
  });
  return app;
}

function listeningUrl(app: FastifyInstance, host: string): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
