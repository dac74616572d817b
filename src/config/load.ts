import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config, StoreConfig, TierConfig, TokenConfig } from './types.js';
import { Reader } from './reader.js';
import { checkPublicUrl, readLogLevel } from './value-checks.js';
import { readMetrics, resolveCredential, sha256Hex } from './credentials.js';
import { readStorageConnections, readTemplates } from './step-config.js';
import { parseAllowList } from '../upstream/address-policy.js';
import { DEFAULT_BUFFER_BYTES, parseStore, STORE_DRIVERS } from '../storage/registry.js';
import { isCredentialHeader, isCredentialQueryParam } from '../secrets/credential-names.js';

/** Every environment variable blobgate reads; the README documents each. */
export const ENV_VARS = [
  'BLOBGATE_CONFIG',
  'BLOBGATE_HOST',
  'BLOBGATE_PORT',
  'BLOBGATE_PUBLIC_URL',
  'BLOBGATE_DATA_DIR',
  'BLOBGATE_TOKEN',
  'BLOBGATE_SIGNING_SECRET',
  'BLOBGATE_UPSTREAM_ALLOW',
  'BLOBGATE_LOG_LEVEL',
  'BLOBGATE_SECRETS_FILE',
  'BLOBGATE_METRICS_LISTEN',
  'BLOBGATE_METRICS_TOKEN',
] as const;

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 8787,
  dataDir: '.blobgate',
  retainedCapBytes: 52_428_800,
  ephemeralCapBytes: 4_294_967_296,
  ephemeralTtlSeconds: 24 * 3600,
  retainedLoadBytes: 10_485_760,
  ephemeralLoadBytes: 20_971_520,
  inlineBytes: 262_144,
  requestBodyBytes: 1_048_576,
  signedUrlDefaultTtl: 900,
  signedUrlMinTtl: 60,
  signedUrlMaxTtl: 604_800,
  upstreamTimeoutSeconds: 30,
  maxRedirects: 5,
  uploadFiles: 20,
  uploadFields: 50,
  uploadFieldBytes: 65_536,
  /** Part buffers of all transfers together (src/storage/buffer-budget.ts). */
  bufferBytes: DEFAULT_BUFFER_BYTES,
  transfers: 16,
  transferQueue: 64,
  /** Content and signed reads streaming at once: each holds a socket and an open stored object. */
  reads: 256,
  /** Deadlines of a whole transfer, per tier: 50 MiB at ≥ 58 KB/s, 4 GiB at ≥ 600 KB/s. */
  retainedTotalTimeoutSeconds: 900,
  ephemeralTotalTimeoutSeconds: 7200,
  headersTimeoutSeconds: 15,
  requestTimeoutSeconds: 900,
  uploadIdleTimeoutSeconds: 30,
  sendIdleTimeoutSeconds: 60,
  shutdownDeadlineSeconds: 30,
  sweepIntervalSeconds: 600,
  janitorGraceSeconds: 6 * 3600,
  janitorSweepIntervalSeconds: 3600,
  janitorRetryMaxSeconds: 60,
  janitorMaxPending: 1000,
  jobRetentionSeconds: 7 * 86_400,
  idempotencyRetentionSeconds: 86_400,
  jobHeartbeatSeconds: 1,
  jobLostAfterSeconds: 15,
} as const;

export class ConfigError extends Error {
  /** `partial`: the configuration as read so far, for checks that report more problems (blobgate config check). */
  constructor(
    readonly problems: string[],
    readonly partial?: Config,
  ) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The one place configuration is read: the JSON file named by BLOBGATE_CONFIG
 * (if any), then environment variables over it. Every problem is collected and
 * reported together; the result is deeply frozen.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  let file: unknown = {};
  const problems: string[] = [];
  if (env.BLOBGATE_CONFIG) {
    try {
      file = JSON.parse(readFileSync(resolve(cwd, env.BLOBGATE_CONFIG), 'utf8'));
    } catch (err) {
      throw new ConfigError([`BLOBGATE_CONFIG (${env.BLOBGATE_CONFIG}): ${fileProblem(err)}`]);
    }
  }
  return buildConfig(file, env, cwd, problems);
}

export function buildConfig(file: unknown, env: NodeJS.ProcessEnv, cwd: string, problems: string[] = []): Config {
  const r = new Reader(file, problems);
  r.only(['host', 'port', 'public-url', 'data-dir', 'stores', 'tiers', 'tokens', 'limits', 'signing', 'upstream', 'log-level', 'secrets', 'connections', 'shutdown', 'expiry', 'janitor', 'jobs', 'metrics', 'server', 'templates', 'storage-connections']);

  const host = env.BLOBGATE_HOST ?? r.string('host') ?? DEFAULTS.host;
  const port = env.BLOBGATE_PORT !== undefined ? r.envInt('BLOBGATE_PORT', env.BLOBGATE_PORT, 0, 65535) : (r.int('port', 0, 65535) ?? DEFAULTS.port);
  const dataDir = resolve(cwd, env.BLOBGATE_DATA_DIR ?? r.string('data-dir') ?? DEFAULTS.dataDir);
  const publicUrl = (env.BLOBGATE_PUBLIC_URL ?? r.string('public-url'))?.replace(/\/+$/, '');
  if (publicUrl !== undefined) checkPublicUrl(r, env.BLOBGATE_PUBLIC_URL !== undefined ? 'BLOBGATE_PUBLIC_URL' : 'public-url', publicUrl);

  const stores = readStores(r, dataDir, cwd);
  const tiers = readTiers(r, stores);
  const tokens = readTokens(r, env, cwd);

  const limits = r.child('limits');
  limits.only(['inline-bytes', 'request-body-bytes', 'upload-files', 'upload-fields', 'upload-field-bytes', 'buffer-bytes', ...TRANSFER_LIMIT_KEYS]);
  const shutdown = r.child('shutdown');
  shutdown.only(['deadline-seconds']);
  const expiry = r.child('expiry');
  expiry.only(['sweep-interval-seconds']);
  const janitor = r.child('janitor');
  janitor.only(['grace-seconds', 'sweep-interval-seconds', 'retry-max-seconds', 'max-pending']);
  const signing = r.child('signing');
  signing.only(['secret', 'default-ttl-seconds', 'min-ttl-seconds', 'max-ttl-seconds']);
  const upstream = r.child('upstream');
  upstream.only(['timeout-seconds', 'allow', 'max-redirects']);
  const secrets = r.child('secrets');
  secrets.only(['file', 'allow-plain-on-url']);
  const secretsFile = env.BLOBGATE_SECRETS_FILE ?? secrets.string('file');
  const allowPlainOnUrl = secrets.boolean('allow-plain-on-url') ?? false;
  const allow = [...(upstream.stringArray('allow') ?? []), ...(env.BLOBGATE_UPSTREAM_ALLOW ?? '').split(',').map((s) => s.trim()).filter(Boolean)];

  const reportSigning = (msg: string): void => (env.BLOBGATE_SIGNING_SECRET === undefined ? signing.problem('secret', msg) : r.problem('BLOBGATE_SIGNING_SECRET', msg));
  const signingSecret = resolveCredential(env.BLOBGATE_SIGNING_SECRET ?? signing.string('secret'), reportSigning, env, cwd);
  checkAllowList(r, allow);
  const config: Config = {
    host,
    port,
    ...(publicUrl ? { publicUrl } : {}),
    dataDir,
    stores,
    tiers,
    tokens,
    limits: {
      inlineBytes: limits.int('inline-bytes', 0, 64 * 1024 * 1024) ?? DEFAULTS.inlineBytes,
      requestBodyBytes: limits.int('request-body-bytes', 1024, 64 * 1024 * 1024) ?? DEFAULTS.requestBodyBytes,
      uploadFiles: limits.int('upload-files', 1, 1000) ?? DEFAULTS.uploadFiles,
      uploadFields: limits.int('upload-fields', 0, 1000) ?? DEFAULTS.uploadFields,
      uploadFieldBytes: limits.int('upload-field-bytes', 1, 1024 * 1024) ?? DEFAULTS.uploadFieldBytes,
      bufferBytes: limits.int('buffer-bytes', 16 * 1024 * 1024, 64 * 1024 ** 3) ?? DEFAULTS.bufferBytes,
      ...readTransferLimits(limits),
    },
    server: readServer(r.child('server')),
    shutdown: { deadlineSeconds: shutdown.number('deadline-seconds', 0, 3600) ?? DEFAULTS.shutdownDeadlineSeconds },
    expiry: { sweepIntervalSeconds: expiry.int('sweep-interval-seconds', 0, 86_400) ?? DEFAULTS.sweepIntervalSeconds },
    janitor: {
      graceSeconds: janitor.int('grace-seconds', 1, 30 * 86_400) ?? DEFAULTS.janitorGraceSeconds,
      sweepIntervalSeconds: janitor.int('sweep-interval-seconds', 0, 86_400) ?? DEFAULTS.janitorSweepIntervalSeconds,
      retryMaxSeconds: janitor.int('retry-max-seconds', 1, 3600) ?? DEFAULTS.janitorRetryMaxSeconds,
      maxPending: janitor.int('max-pending', 1, 1_000_000) ?? DEFAULTS.janitorMaxPending,
    },
    jobs: readJobs(r.child('jobs'), stores, tiers.retained.store),
    signing: {
      ...(signingSecret ? { secret: signingSecret } : {}),
      defaultTtlSeconds: signing.int('default-ttl-seconds', 1, DEFAULTS.signedUrlMaxTtl) ?? DEFAULTS.signedUrlDefaultTtl,
      minTtlSeconds: signing.int('min-ttl-seconds', 1, DEFAULTS.signedUrlMaxTtl) ?? DEFAULTS.signedUrlMinTtl,
      maxTtlSeconds: signing.int('max-ttl-seconds', 1, DEFAULTS.signedUrlMaxTtl) ?? DEFAULTS.signedUrlMaxTtl,
    },
    upstream: {
      timeoutSeconds: upstream.number('timeout-seconds', 0.001, 86_400) ?? DEFAULTS.upstreamTimeoutSeconds,
      allow,
      maxRedirects: upstream.int('max-redirects', 0, 20) ?? DEFAULTS.maxRedirects,
    },
    secrets: { ...(secretsFile ? { file: resolve(cwd, secretsFile) } : {}), allowPlainOnUrl },
    connections: readConnections(r),
    templates: readTemplates(r, isCredentialHeader),
    storageConnections: readStorageConnections(r, stores),
    logLevel: readLogLevel(r, env),
    metrics: readMetrics(r, env, cwd),
  };
  if (signingSecret !== undefined && signingSecret.length < 32) problems.push('signing.secret (or BLOBGATE_SIGNING_SECRET) must be at least 32 characters');
  const { minTtlSeconds, defaultTtlSeconds, maxTtlSeconds } = config.signing;
  if (!(minTtlSeconds <= defaultTtlSeconds && defaultTtlSeconds <= maxTtlSeconds)) {
    problems.push('signing: min-ttl-seconds ≤ default-ttl-seconds ≤ max-ttl-seconds must hold');
  }
  if (problems.length > 0) throw new ConfigError(problems, config);
  return deepFreeze(config);
}

function readStores(r: Reader, dataDir: string, cwd: string): Record<string, StoreConfig> {
  const section = r.child('stores');
  if (!section.present) {
    // The default: a local store per tier, under the data dir (the local backend's defaults).
    return Object.fromEntries(['retained', 'ephemeral'].map((name) => [name, parseStore('local', section.child(name), { name, dataDir, cwd })]));
  }
  const stores: Record<string, StoreConfig> = {};
  for (const name of section.keys()) {
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) {
      section.problem(name, 'store names are 1-63 characters of a-z, 0-9, "-" and "_", starting with a letter or digit');
      continue;
    }
    const s = section.child(name);
    const driver = s.oneOf('driver', STORE_DRIVERS, true);
    // Each backend reads the rest of its section (src/storage/registry.ts).
    if (driver !== undefined) stores[name] = parseStore(driver, s, { name, dataDir, cwd });
  }
  return stores;
}

function readTiers(r: Reader, stores: Record<string, StoreConfig>): Record<'retained' | 'ephemeral', TierConfig> {
  const section = r.child('tiers');
  section.only(['retained', 'ephemeral']);
  const tier = (name: 'retained' | 'ephemeral', cap: number, load: number, ttl?: number): TierConfig => {
    const t = section.child(name);
    t.only(['store', 'cap-bytes', 'load-bytes', ...(ttl === undefined ? [] : ['ttl-seconds'])]);
    const store = t.string('store') ?? name;
    if (!(store in stores)) t.problem('store', `names store "${store}", which is not configured (stores: ${Object.keys(stores).join(', ') || 'none'})`);
    return {
      store,
      capBytes: t.int('cap-bytes', 0, Number.MAX_SAFE_INTEGER) ?? cap,
      loadBytes: t.int('load-bytes', 0, Number.MAX_SAFE_INTEGER) ?? load,
      ...(ttl === undefined ? {} : { ttlSeconds: t.int('ttl-seconds', 1, 10 * 365 * 86_400) ?? ttl }),
    };
  };
  return {
    retained: tier('retained', DEFAULTS.retainedCapBytes, DEFAULTS.retainedLoadBytes),
    ephemeral: tier('ephemeral', DEFAULTS.ephemeralCapBytes, DEFAULTS.ephemeralLoadBytes, DEFAULTS.ephemeralTtlSeconds),
  };
}

/**
 * Jobs and idempotency keys (docs/jobs.md). A running job is lost when its replica has not written a
 * heartbeat for `lost-after-seconds`, which must leave room for a few missed heartbeats.
 */
function readJobs(section: Reader, stores: Record<string, StoreConfig>, retainedStore: string): Config['jobs'] {
  section.only(['store', 'retention-seconds', 'idempotency-retention-seconds', 'heartbeat-seconds', 'lost-after-seconds']);
  const store = section.string('store') ?? retainedStore;
  if (!(store in stores)) section.problem('store', `names store "${store}", which is not configured (stores: ${Object.keys(stores).join(', ') || 'none'})`);
  const heartbeatSeconds = section.number('heartbeat-seconds', 0.05, 60) ?? DEFAULTS.jobHeartbeatSeconds;
  const lostAfterSeconds = section.number('lost-after-seconds', 0.2, 3600) ?? DEFAULTS.jobLostAfterSeconds;
  if (lostAfterSeconds < 3 * heartbeatSeconds) section.problem('lost-after-seconds', `must be at least three heartbeats (3 × heartbeat-seconds = ${Number((3 * heartbeatSeconds).toFixed(3))})`);
  return {
    store,
    retentionSeconds: section.int('retention-seconds', 60, 90 * 86_400) ?? DEFAULTS.jobRetentionSeconds,
    idempotencyRetentionSeconds: section.int('idempotency-retention-seconds', 60, 30 * 86_400) ?? DEFAULTS.idempotencyRetentionSeconds,
    heartbeatSeconds,
    lostAfterSeconds,
  };
}

const TRANSFER_LIMIT_KEYS = ['transfers', 'transfer-queue', 'token-transfers', 'token-transfer-queue', 'workspace-transfers', 'workspace-transfer-queue', 'retained-total-timeout-seconds', 'ephemeral-total-timeout-seconds', 'reads', 'workspace-reads'];

/**
 * The transfer gate's limits. A workspace's share defaults to a quarter of
 * the total (rounded up), so one workspace cannot hold every slot or fill the
 * wait queue while others wait; a token's share, over all its workspaces,
 * defaults to the totals less one workspace's share (never less than one
 * share), so whatever one token does, another token's workspace can still
 * run and wait its full share (README "Timeouts and fairness"). Reads get their own limit: a quarter of it per workspace.
 */
function readTransferLimits(limits: Reader): Omit<Config['limits'], 'inlineBytes' | 'requestBodyBytes' | 'uploadFiles' | 'uploadFields' | 'uploadFieldBytes' | 'bufferBytes'> {
  const transfers = limits.int('transfers', 1, 10_000) ?? DEFAULTS.transfers;
  const transferQueue = limits.int('transfer-queue', 0, 100_000) ?? DEFAULTS.transferQueue;
  const workspaceTransfers = limits.int('workspace-transfers', 1, 10_000) ?? Math.ceil(transfers / 4);
  const workspaceTransferQueue = limits.int('workspace-transfer-queue', 0, 100_000) ?? Math.ceil(transferQueue / 4);
  if (workspaceTransfers > transfers) limits.problem('workspace-transfers', `must not exceed limits.transfers (${transfers})`);
  if (workspaceTransferQueue > transferQueue) limits.problem('workspace-transfer-queue', `must not exceed limits.transfer-queue (${transferQueue})`);
  const tokenTransfers = limits.int('token-transfers', 1, 10_000) ?? Math.max(transfers - workspaceTransfers, workspaceTransfers);
  const tokenTransferQueue = limits.int('token-transfer-queue', 0, 100_000) ?? Math.max(transferQueue - workspaceTransferQueue, workspaceTransferQueue);
  if (tokenTransfers > transfers) limits.problem('token-transfers', `must not exceed limits.transfers (${transfers})`);
  if (tokenTransferQueue > transferQueue) limits.problem('token-transfer-queue', `must not exceed limits.transfer-queue (${transferQueue})`);
  const reads = limits.int('reads', 1, 100_000) ?? DEFAULTS.reads;
  const workspaceReads = limits.int('workspace-reads', 1, 100_000) ?? Math.ceil(reads / 4);
  if (workspaceReads > reads) limits.problem('workspace-reads', `must not exceed limits.reads (${reads})`);
  return {
    transfers,
    transferQueue,
    tokenTransfers,
    tokenTransferQueue,
    workspaceTransfers,
    workspaceTransferQueue,
    reads,
    workspaceReads,
    totalTimeoutSeconds: {
      retained: limits.number('retained-total-timeout-seconds', 0.001, 7 * 86_400) ?? DEFAULTS.retainedTotalTimeoutSeconds,
      ephemeral: limits.number('ephemeral-total-timeout-seconds', 0.001, 7 * 86_400) ?? DEFAULTS.ephemeralTotalTimeoutSeconds,
    },
  };
}

/** Timeouts of the HTTP server itself: slow clients, not slow upstreams (README "Timeouts and fairness"). */
function readServer(server: Reader): Config['server'] {
  server.only(['headers-timeout-seconds', 'request-timeout-seconds', 'upload-idle-timeout-seconds', 'send-idle-timeout-seconds']);
  const headersTimeoutSeconds = server.number('headers-timeout-seconds', 0.001, 3600) ?? DEFAULTS.headersTimeoutSeconds;
  const requestTimeoutSeconds = server.number('request-timeout-seconds', 0.001, 7 * 86_400) ?? DEFAULTS.requestTimeoutSeconds;
  // Node refuses a headers timeout longer than the request timeout it is part of.
  if (headersTimeoutSeconds > requestTimeoutSeconds) server.problem('headers-timeout-seconds', `must not exceed server.request-timeout-seconds (${requestTimeoutSeconds})`);
  return {
    headersTimeoutSeconds,
    requestTimeoutSeconds,
    uploadIdleTimeoutSeconds: server.number('upload-idle-timeout-seconds', 0.001, 3600) ?? DEFAULTS.uploadIdleTimeoutSeconds,
    sendIdleTimeoutSeconds: server.number('send-idle-timeout-seconds', 0.001, 3600) ?? DEFAULTS.sendIdleTimeoutSeconds,
  };
}

function readConnections(r: Reader): Config['connections'] {
  const section = r.child('connections');
  const out: Config['connections'] = {};
  for (const ws of section.keys()) {
    const wsSection = section.child(ws);
    out[ws] = {};
    for (const name of wsSection.keys()) {
      const c = wsSection.child(name);
      c.only(['base-url', 'auth', 'headers']);
      const baseUrl = c.string('base-url', true) ?? '';
      if (baseUrl && !/^https?:\/\/[^/]/.test(baseUrl)) c.problem('base-url', 'must be an absolute http(s) URL');
      else if (baseUrl) checkBaseUrlCredentials(c, baseUrl);
      const auth = c.child('auth');
      const headers = c.child('headers');
      const headerMap: Record<string, string> = {};
      for (const h of headers.keys()) {
        const v = headers.string(h);
        if (v !== undefined) headerMap[h] = v;
        if (isCredentialHeader(h)) {
          headers.problem(h, 'credentials go in "auth" as a secret-ref, never as a literal header');
        }
      }
      out[ws][name] = {
        baseUrl,
        ...(auth.present ? { auth: JSON.parse(JSON.stringify(c.raw('auth'))) as Record<string, unknown> } : {}),
        ...(headers.present ? { headers: headerMap } : {}),
      };
    }
  }
  return out;
}

/** A base URL holds no credential: no user:password@ and no credential query parameter (src/secrets/credential-names.ts). */
function checkBaseUrlCredentials(c: Reader, baseUrl: string): void {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return c.problem('base-url', 'is not a valid URL');
  }
  if (url.username !== '' || url.password !== '') c.problem('base-url', 'may not hold user:password@; give "auth" {"type": "basic", "secret-ref": …}');
  const param = [...url.searchParams.keys()].find(isCredentialQueryParam);
  if (param !== undefined) c.problem('base-url', `the query parameter "${param}" is a credential; give "auth" {"type": "api-key", "query": "${param}", "secret-ref": …}`);
}

/** API tokens: a literal `token`, an `env:`/`file:` reference to one, or its `token-sha256`; kept only as digests. */
function readTokens(r: Reader, env: NodeJS.ProcessEnv, cwd: string): TokenConfig[] {
  const tokens: TokenConfig[] = [];
  const list = r.array('tokens');
  list.forEach((_, i) => {
    const t = r.child('tokens').child(String(i));
    t.only(['token', 'token-sha256', 'workspaces']);
    const given = t.string('token');
    const plain = resolveCredential(given, (msg) => t.problem('token', msg), env, cwd);
    const hashed = t.string('token-sha256');
    if ((given === undefined) === (hashed === undefined)) t.problem('token', 'give exactly one of "token" or "token-sha256"');
    if (plain !== undefined && plain.length < 16) t.problem('token', 'must be at least 16 characters');
    if (hashed !== undefined && !/^[0-9a-f]{64}$/.test(hashed)) t.problem('token-sha256', 'must be 64 lowercase hex digits');
    const workspaces = t.stringArray('workspaces', true) ?? [];
    tokens.push({ sha256: hashed ?? sha256Hex(plain ?? ''), workspaces });
  });
  const envToken = resolveCredential(env.BLOBGATE_TOKEN || undefined, (msg) => r.problem('BLOBGATE_TOKEN', msg), env, cwd);
  if (envToken !== undefined) {
    if (envToken.length < 16) r.problem('BLOBGATE_TOKEN', 'must be at least 16 characters');
    tokens.push({ sha256: sha256Hex(envToken), workspaces: ['*'] });
  }
  return tokens;
}

export { sha256Hex };

/** Why the config file could not be read or parsed, without quoting it (V8's JSON errors quote the text, which may hold a credential). */
function fileProblem(err: unknown): string {
  if (!(err instanceof SyntaxError)) return (err as Error).message; // fs errors name the path, never the content
  const at = /position (\d+)/.exec(err.message)?.[1];
  return `is not valid JSON${at === undefined ? '' : ` (at character ${at})`}; fix the syntax (the text is not repeated here)`;
}

/** upstream.allow entries are checked here so a bad one is reported with every other problem. */
function checkAllowList(r: Reader, allow: readonly string[]): void {
  for (const entry of allow) {
    try {
      parseAllowList([entry]);
    } catch (err) {
      r.problem('upstream.allow', (err as Error).message.replace(/^upstream\.allow: /, ''));
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
