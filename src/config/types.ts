import type { Tier } from '../storage/driver.js';
import type { MetricsConfig } from './credentials.js';
import type { StoreConfig } from '../storage/registry.js';

/**
 * A store as configured. Each backend owns its options and reads its own
 * section (src/storage/local/local-backend.ts, s3/s3-config.ts,
 * gcs/gcs-config.ts); the registry's table of backends makes them one type.
 */
export type { StoreConfig };

export interface TierConfig {
  store: string;
  capBytes: number;
  /** Ephemeral only: lifetime after write. */
  ttlSeconds?: number;
  /** Most bytes loaded from a blob of this tier as a request body. */
  loadBytes: number;
}

export interface TokenConfig {
  /** sha256 (hex) of the bearer token; plain tokens from config are hashed at load. */
  sha256: string;
  /** Workspace ids, or ['*'] for every workspace. */
  workspaces: string[];
}

/** A workspace's named upstream connection (`connection` + `path` on a step). */
export interface ConnectionConfig {
  baseUrl: string;
  /** Raw auth object (kebab-case), validated like a step's auth by src/upstream/auth.ts. */
  auth?: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** An HTTP request template: request fields (kebab-case) checked at load; a step's own fields override them. */
export type RequestTemplate = Record<string, unknown>;

export interface Config {
  host: string;
  port: number;
  /** Base URL blobgate is reached at, for URLs it signs itself; default: http://<host>:<listening port>. */
  publicUrl?: string;
  dataDir: string;
  stores: Record<string, StoreConfig>;
  tiers: Record<Tier, TierConfig>;
  tokens: TokenConfig[];
  limits: {
    inlineBytes: number;
    requestBodyBytes: number;
    uploadFiles: number;
    uploadFields: number;
    uploadFieldBytes: number;
    /** Bytes of part buffers all transfers together may hold (src/storage/buffer-budget.ts; S3 multipart parts, GCS resumable chunks and composite parts). */
    bufferBytes: number;
    transfers: number;
    transferQueue: number;
    /** Most transfers one API token runs at once over all its workspaces, and most it has waiting. */
    tokenTransfers: number;
    tokenTransferQueue: number;
    /** Most transfers one workspace runs at once, and most it has waiting. */
    workspaceTransfers: number;
    workspaceTransferQueue: number;
    /** Most content and signed reads streaming at once, in total and for one workspace. */
    reads: number;
    workspaceReads: number;
    /** Deadline of a whole HTTP step, per tier (a step without persist: retained); client-opts.total-timeout may only lower it. */
    totalTimeoutSeconds: Record<Tier, number>;
  };
  /** Timeouts on clients: sending headers, the whole request, gaps in an upload body; gaps in taking a download. */
  server: { headersTimeoutSeconds: number; requestTimeoutSeconds: number; uploadIdleTimeoutSeconds: number; sendIdleTimeoutSeconds: number };
  shutdown: { deadlineSeconds: number };
  expiry: { sweepIntervalSeconds: number };
  /** Each store's janitor (src/storage/janitor.ts): crash-debris grace period and sweep period, cleanup retries. */
  janitor: { graceSeconds: number; sweepIntervalSeconds: number; retryMaxSeconds: number; maxPending: number };
  /**
   * Transfer jobs and idempotency keys (docs/jobs.md): the store whose records hold them (default: the
   * retained tier's), how long records live, the running replica's heartbeat, and after how long
   * without one a running job is reported lost.
   */
  jobs: { store: string; retentionSeconds: number; idempotencyRetentionSeconds: number; heartbeatSeconds: number; lostAfterSeconds: number };
  signing: { secret?: string; defaultTtlSeconds: number; minTtlSeconds: number; maxTtlSeconds: number };
  upstream: { timeoutSeconds: number; allow: string[]; maxRedirects: number };
  /**
   * The embedded secrets provider's JSON file ({"<ws>": {"<ref>": "<value>" | {value, hosts}}}), and whether a
   * secret without hosts may be used on a raw `url` step (README "Secrets and auth").
   */
  secrets: { file?: string; allowPlainOnUrl?: boolean };
  /** connections[workspace][name] */
  connections: Record<string, Record<string, ConnectionConfig>>;
  /** templates[workspace][id]: request fields a step names with `template` (README "The HTTP step"). */
  templates: Record<string, Record<string, RequestTemplate>>;
  /** storage-connections[id] = store: what a slot binding's `connection-id` names; "platform" is always the tier's store. */
  storageConnections: Record<string, string>;
  logLevel: string;
  /** Who may read /metrics, and where (README "Operating blobgate"). */
  metrics: MetricsConfig;
}
