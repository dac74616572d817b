import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import { finishPlacement, planPlacement, type PersistSpec, type PlacementPlan, type SlotBinding } from '../persist/placement.js';
import { persistBody } from '../persist/persist-body.js';
import { toResourceRef, type ResourceRef } from '../refs/resource-ref.js';
import type { SearchIndex } from '../storage/driver.js';
import type { StoreRegistry } from '../storage/registry.js';
import type { Metrics } from '../http/metrics.js';
import type { SecretsProvider } from '../secrets/provider.js';
import type { UpstreamResponse } from '../upstream/fetch.js';
import type { GoogleTokenSource } from '../upstream/google-token.js';
import type { UpstreamGuard } from '../upstream/guard.js';
import type { BuiltRequest } from '../upstream/build-request.js';
import { fetchFollowingRedirects } from '../upstream/redirects.js';
import { resumableBody, ResumeRefused, type AttemptBudget } from '../upstream/resumable-body.js';
import { backoffDelay, isRetryable, mayRetryMethod, NO_RETRY, parseRetry, parseRetryAfter, waitBeforeRetry } from '../upstream/retry.js';
import { prepareRequest, scrubSecrets, type PreparedRequest } from './prepare-request.js';
import { inlineResponse, type InlineResult } from '../upstream/inline.js';
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
  metrics?: Metrics;
}

export type PersistedResult = ResourceRef & { status: number; headers: Record<string, string> };

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

  const retryable = mayRetryMethod(prepared.built.method, policy);
  const budget: AttemptBudget = { used: 0, policy: retryable ? policy : NO_RETRY };
  for (;;) {
    budget.used++;
    try {
      const result = await attempt(deps, workspace, step, prepared, plan, budget, signal);
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

/** One request (with its redirects and any ranged resumes), inlined or persisted. */
async function attempt(
  deps: StepDeps,
  workspace: string,
  step: StepBody,
  prepared: PreparedRequest,
  plan: PlacementPlan | undefined,
  budget: AttemptBudget,
  signal: AbortSignal,
): Promise<PersistedResult | InlineResult> {
  const { config } = deps;
  const request = step.request;
  const persist = step.persist;
  const maxResponseBytes = request['client-opts']?.['max-response-bytes'];
  const timeoutMs = Math.round((request.timeout ?? config.upstream.timeoutSeconds) * 1000);
  const send = (req: BuiltRequest) =>
    fetchFollowingRedirects(req, {
      guard: deps.guard,
      timeoutMs,
      signal,
      maxRedirects: request['client-opts']?.['max-redirects'] ?? config.upstream.maxRedirects,
      credentialHeaders: prepared.credentialHeaders,
      secretValues: prepared.secretValues,
    });
  const upstreamTimer = deps.metrics?.upstreamSeconds.startTimer();
  let res: Awaited<ReturnType<typeof send>>;
  try {
    res = await send(prepared.built);
    upstreamTimer?.({ outcome: String(res.status) });
  } catch (err) {
    upstreamTimer?.({ outcome: err instanceof BlobgateError ? err.code : 'internal' });
    throw err;
  }
  let body = res.body;
  try {
    if (res.status < 200 || res.status > 299) throw await upstreamStatus(res, prepared.secretValues);
    const headers = resultHeaders(res.headers);
    if (!plan || !persist) {
      const limit = Math.min(config.limits.inlineBytes, maxResponseBytes ?? Infinity);
      return await inlineResponse({ ...res, headers }, request['response-as'] ?? 'auto', limit);
    }
    const placement = finishPlacement(plan, workspace, { url: res.url, ...(res.headers['content-type'] ? { contentType: res.headers['content-type'] } : {}) });
    const tier = config.tiers[placement.tier];
    const cap = Math.min(tier.capBytes, maxResponseBytes ?? Infinity);
    const driver = deps.stores.get(placement.store);
    const searchIndex = toSearchIndex(persist['search-index']);
    body = resumableBody(res, res.request, budget, send, signal);
    const storeTimer = deps.metrics?.storeSeconds.startTimer({ store: placement.store });
    const stored = await persistBody({
      driver,
      key: placement.key,
      body,
      cap,
      ...(res.decodedLength !== undefined ? { announcedBytes: res.decodedLength } : {}),
      tier: placement.tier,
      ...(tier.ttlSeconds !== undefined ? { ttlSeconds: tier.ttlSeconds } : {}),
      contentType: placement.contentType,
      ...(placement.storage ? { storage: placement.storage } : {}),
      ...(searchIndex ? { searchIndex } : {}),
      signal,
    }).catch((err: unknown) => {
      storeTimer?.({ outcome: err instanceof BlobgateError ? err.code : 'error' });
      throw err;
    });
    storeTimer?.({ outcome: 'ok' });
    return { ...toResourceRef(workspace, placement.store, driver, stored), status: res.status, headers };
  } finally {
    if (!body.destroyed) body.destroy();
    if (!res.body.destroyed) res.body.destroy();
  }
}

/** A restart that cannot happen (no attempts left) reports what the upstream did. */
function unwrapRestart(err: unknown): unknown {
  if (err instanceof ResumeRefused) {
    return new BlobgateError('upstream_unreachable', 'The upstream connection broke and the resource changed before it could be resumed; no attempts were left to start over.', { status: err.status });
  }
  return err;
}

async function upstreamStatus(res: UpstreamResponse, secrets: readonly string[]): Promise<BlobgateError> {
  let excerpt = '';
  try {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      parts.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= EXCERPT_BYTES) break;
    }
    excerpt = scrubSecrets(Buffer.concat(parts).subarray(0, EXCERPT_BYTES).toString('utf8'), secrets);
  } catch {
    // the excerpt is a courtesy; the status is the error
  }
  const location = res.status >= 300 && res.status < 400 ? res.headers.location : undefined;
  const retryAfter = parseRetryAfter(res.headers['retry-after']);
  return new BlobgateError('upstream_status', `The upstream answered ${res.status}; nothing was persisted.`, {
    status: res.status,
    excerpt,
    ...(location !== undefined ? { location: scrubSecrets(location, secrets) } : {}),
    ...(retryAfter !== undefined ? { 'retry-after-ms': retryAfter } : {}),
  });
}

/** Response headers reported back to the runner; cookies are credentials and stay out. */
function resultHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (k !== 'set-cookie') out[k] = v;
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
