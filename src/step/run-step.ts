import type { Readable } from 'node:stream';
import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import { finishPlacement, planPlacement, type PersistSpec, type PlacementPlan, type SlotBinding } from '../persist/placement.js';
import { persistUnderCap, writeCap } from '../persist/write-cap.js';
import { checkSearchIndexSize } from '../persist/search-index.js';
import { toResourceRef, type ResourceRef } from '../refs/resource-ref.js';
import type { SearchIndex } from '../storage/driver.js';
import type { StoreRegistry } from '../storage/registry.js';
import type { SecretsProvider } from '../secrets/provider.js';
import type { UpstreamResponse } from '../upstream/fetch.js';
import type { GoogleTokenSource } from '../upstream/google-token.js';
import type { UpstreamGuard } from '../upstream/guard.js';
import type { BuiltRequest } from '../upstream/build-request.js';
import { fetchFollowingRedirects } from '../upstream/redirects.js';
import { resumableBody, ResumeRefused, type AttemptBudget } from '../upstream/resumable-body.js';
import { backoffDelay, isRetryable, mayRetryMethod, NO_RETRY, parseRetry, parseRetryAfter, waitBeforeRetry } from '../upstream/retry.js';
import { prepareRequest, scrubSecrets, type PreparedRequest } from './prepare-request.js';
import { safeExcerpt } from '../upstream/scrub.js';
import { inlineResponse, type InlineResult } from '../upstream/inline.js';
import type { TransferObserver } from './transfer-observer.js';
import type { StepRequest } from '../upstream/types.js';

/** The body of POST /v1/workspaces/:ws/http, as validated by its JSON schema. */
export interface StepBody {
  'flow-slug': string;
  'step-id': string;
  'run-id'?: string;
  request: StepRequest;
  persist?: {
    type: 'blob';
    tier?: 'retained' | 'ephemeral';
    path?: string;
    filename?: string;
    'content-type'?: string;
    slot?: string;
    'search-index'?: { text?: string; tags?: string[]; 'source-label'?: string; 'include-raw-content?'?: boolean };
  };
  params?: { input?: Record<string, unknown>; data?: Record<string, unknown> };
  slots?: Record<string, { root?: string; connection?: string; 'profile-id'?: string; prefix?: string }>;
}

export interface StepDeps {
  config: Config;
  stores: StoreRegistry;
  guard: UpstreamGuard;
  secrets: SecretsProvider;
  google: GoogleTokenSource;
  /** Told when upstream requests and store writes start and end (the HTTP layer's metrics). */
  observer?: TransferObserver;
}

/**
 * `headers` are true of the stored bytes; `upstream-headers` are the
 * response headers as they came off the wire (README "The HTTP step").
 */
export type PersistedResult = ResourceRef & { status: number; headers: Record<string, string>; 'upstream-headers': Record<string, string> };

const EXCERPT_BYTES = 512;

/** Runs one HTTP step: builds the request, fetches it, then inlines or persists the response. */
export async function runHttpStep(deps: StepDeps, workspace: string, step: StepBody, signal: AbortSignal): Promise<(PersistedResult | InlineResult) & { attempts: number }> {
  const { config } = deps;
  const request = step.request;
  const policy = parseRetry(request.retry);
  const prepared = await prepareRequest(deps, workspace, request);
  const persist = step.persist;

  // Templates and paths are resolved before any upstream byte moves: a bad path fails fast.
  const plan = persist
    ? planPlacement(config, { workspace, flowSlug: step['flow-slug'], stepId: step['step-id'], ...(step['run-id'] ? { runId: step['run-id'] } : {}) }, toPersistSpec(persist), toSlots(step.slots), {
        input: step.params?.input ?? {},
        data: step.params?.data ?? {},
        query: request.query ?? {},
        headers: request.headers ?? {},
        'workspace-id': workspace,
        'flow-slug': step['flow-slug'],
        'step-id': step['step-id'],
        ...(step['run-id'] ? { 'run-id': step['run-id'] } : {}),
      })
    : undefined;
  // The search index's limits are checked before the upstream is called, too.
  if (persist) checkSearchIndexSize(toSearchIndex(persist['search-index']), 'persist.search-index');

  const retryable = mayRetryMethod(prepared.built.method, policy);
  const budget: AttemptBudget = { used: 0, policy: retryable ? policy : NO_RETRY };
  for (;;) {
    budget.used++;
    try {
      const result = await attempt({ deps, workspace, step, prepared, plan, budget, signal });
      return { ...result, attempts: budget.used };
    } catch (err) {
      if (budget.used >= budget.policy.maxAttempts || signal.aborted) throw unwrapRestart(err);
      if (err instanceof ResumeRefused) continue; // the resource changed under a resume: start over at once
      if (!isRetryable(err)) throw err;
      const retryAfter = err instanceof BlobgateError && typeof err.details?.['retry-after-ms'] === 'number' ? err.details['retry-after-ms'] : undefined;
      await waitBeforeRetry(backoffDelay(budget.policy, budget.used + 1, retryAfter), signal);
    }
  }
}

/** Everything one attempt needs; the runner builds it once per step and counts attempts in `budget`. */
interface AttemptOptions {
  deps: StepDeps;
  workspace: string;
  step: StepBody;
  prepared: PreparedRequest;
  /** Present when the step persists: placement resolved before any upstream byte moved. */
  plan: PlacementPlan | undefined;
  budget: AttemptBudget;
  signal: AbortSignal;
}

type Send = (req: BuiltRequest) => ReturnType<typeof fetchFollowingRedirects>;
type Followed = Awaited<ReturnType<Send>>;

/** One request (with its redirects and any ranged resumes), inlined or persisted. */
async function attempt(opts: AttemptOptions): Promise<PersistedResult | InlineResult> {
  const { deps, step, prepared, plan, signal } = opts;
  const { config } = deps;
  const request = step.request;
  const timeoutMs = Math.round((request.timeout ?? config.upstream.timeoutSeconds) * 1000);
  const send: Send = (req) =>
    fetchFollowingRedirects(req, {
      guard: deps.guard,
      timeoutMs,
      signal,
      maxRedirects: request['client-opts']?.['max-redirects'] ?? config.upstream.maxRedirects,
      credentialHeaders: prepared.credentialHeaders,
      secretValues: prepared.secretValues,
    });
  const upstreamDone = deps.observer?.upstreamStarted();
  let res: Followed;
  try {
    res = await send(prepared.built);
    upstreamDone?.(String(res.status));
  } catch (err) {
    upstreamDone?.(err instanceof BlobgateError ? err.code : 'internal');
    throw err;
  }
  const fetched: Fetched = { res, headers: wireHeaders(res.headers), send, body: res.body };
  try {
    if (res.status < 200 || res.status > 299) throw await upstreamStatus(res, prepared.secretValues);
    if (!plan || !step.persist) {
      const limit = Math.min(config.limits.inlineBytes, request['client-opts']?.['max-response-bytes'] ?? Infinity);
      return await inlineResponse({ ...res, headers: decodedHeaders(fetched.headers) }, request['response-as'] ?? 'auto', limit);
    }
    return await persistResponse(opts, plan, step.persist, fetched);
  } finally {
    if (!fetched.body.destroyed) fetched.body.destroy();
    if (!res.body.destroyed) res.body.destroy();
  }
}

/** A response in hand, and the body stream the attempt destroys when it ends. */
interface Fetched {
  res: Followed;
  /** The response headers as received (cookies left out). */
  headers: Record<string, string>;
  /** Sends the ranged requests of a resume. */
  send: Send;
  body: Readable;
}

/**
 * Streams a successful response into its store under the step's cap. The
 * resumable body replaces the response body in `fetched`, so the attempt
 * destroys whichever stream is live when it ends.
 */
async function persistResponse(opts: AttemptOptions, plan: PlacementPlan, persist: NonNullable<StepBody['persist']>, fetched: Fetched): Promise<PersistedResult> {
  const { deps, workspace, budget, signal } = opts;
  const { res, headers, send } = fetched;
  const placement = finishPlacement(plan, workspace, { url: res.url, ...(res.headers['content-type'] ? { contentType: res.headers['content-type'] } : {}) });
  const tier = deps.config.tiers[placement.tier];
  const maxResponseBytes = opts.step.request['client-opts']?.['max-response-bytes'];
  const cap = writeCap({ caller: 'step', tier: placement.tier, tierCap: tier.capBytes, ...(maxResponseBytes !== undefined ? { maxResponseBytes } : {}) });
  const driver = deps.stores.get(placement.store);
  const searchIndex = toSearchIndex(persist['search-index']);
  fetched.body = resumableBody(res, res.request, budget, send, signal);
  const storeDone = deps.observer?.storeWriteStarted(placement.store);
  if (res.decodedLength !== undefined) deps.observer?.sizeAnnounced?.(res.decodedLength);
  const stored = await persistUnderCap(cap, {
    driver,
    key: placement.key,
    body: fetched.body,
    ...(deps.observer?.bytesMoved ? { progress: deps.observer.bytesMoved.bind(deps.observer) } : {}),
    ...(res.decodedLength !== undefined ? { announcedBytes: res.decodedLength } : {}),
    tier: placement.tier,
    ...(tier.ttlSeconds !== undefined ? { ttlSeconds: tier.ttlSeconds } : {}),
    contentType: placement.contentType,
    ...(placement.storage ? { storage: placement.storage } : {}),
    ...(searchIndex ? { searchIndex } : {}),
    signal,
  }).catch((err: unknown) => {
    storeDone?.(err instanceof BlobgateError ? err.code : 'error');
    throw err;
  });
  storeDone?.('ok');
  const described = { ...decodedHeaders(headers), 'content-type': placement.contentType, 'content-length': String(stored.meta.size) };
  return { ...toResourceRef(workspace, placement.store, driver, stored), status: res.status, headers: described, 'upstream-headers': headers };
}

/** A restart that cannot happen (no attempts left) reports what the upstream did. */
function unwrapRestart(err: unknown): unknown {
  if (err instanceof ResumeRefused) {
    return new BlobgateError('upstream_unreachable', 'The upstream connection broke and the resource changed before it could be resumed; no attempts were left to start over.', { status: err.status });
  }
  return err;
}

async function upstreamStatus(res: UpstreamResponse, secrets: readonly string[]): Promise<BlobgateError> {
  const excerpt = await safeExcerpt(res.body, secrets, EXCERPT_BYTES);
  const location = res.status >= 300 && res.status < 400 ? res.headers.location : undefined;
  const retryAfter = parseRetryAfter(res.headers['retry-after']);
  return new BlobgateError('upstream_status', `The upstream answered ${res.status}; nothing was persisted.`, {
    status: res.status,
    excerpt,
    ...(location !== undefined ? { location: scrubSecrets(location, secrets) } : {}),
    ...(retryAfter !== undefined ? { 'retry-after-ms': retryAfter } : {}),
  });
}

/** Response headers as received; cookies are credentials and stay out. */
function wireHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (k !== 'set-cookie') out[k] = v;
  return out;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the bytes. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection', 'proxy-authenticate']);

/**
 * The headers that stay true once the body is decoded (blobgate stores and
 * inlines decoded bytes): no content-encoding or hop-by-hop headers, and no
 * wire content-length when the body was encoded.
 */
function decodedHeaders(headers: Record<string, string>): Record<string, string> {
  const encoded = headers['content-encoding'] !== undefined && headers['content-encoding'].toLowerCase() !== 'identity';
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (HOP_BY_HOP.has(k) || k === 'content-encoding' || (encoded && k === 'content-length')) continue;
    out[k] = v;
  }
  return out;
}

function toPersistSpec(p: NonNullable<StepBody['persist']>): PersistSpec {
  return {
    type: p.type,
    ...(p.tier ? { tier: p.tier } : {}),
    ...(p.path !== undefined ? { path: p.path } : {}),
    ...(p.filename !== undefined ? { filename: p.filename } : {}),
    ...(p['content-type'] ? { contentType: p['content-type'] } : {}),
    ...(p.slot !== undefined ? { slot: p.slot } : {}),
  };
}

function toSlots(slots: StepBody['slots']): Record<string, SlotBinding> {
  const out: Record<string, SlotBinding> = {};
  for (const [name, s] of Object.entries(slots ?? {})) {
    out[name.replace(/^:/, '')] = {
      ...(s.root !== undefined ? { root: s.root } : {}),
      ...(s.connection !== undefined ? { connection: s.connection } : {}),
      ...(s['profile-id'] !== undefined ? { profileId: s['profile-id'] } : {}),
      ...(s.prefix !== undefined ? { prefix: s.prefix } : {}),
    };
  }
  return out;
}

function toSearchIndex(s: NonNullable<StepBody['persist']>['search-index']): SearchIndex | undefined {
  if (!s) return undefined;
  return {
    ...(s.text !== undefined ? { text: s.text } : {}),
    ...(s.tags !== undefined ? { tags: s.tags } : {}),
    ...(s['source-label'] !== undefined ? { sourceLabel: s['source-label'] } : {}),
    ...(s['include-raw-content?'] !== undefined ? { includeRawContent: s['include-raw-content?'] } : {}),
  };
}
