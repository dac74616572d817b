import { randomUUID } from 'node:crypto';
import mime from 'mime-types';
import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import type { StorageScope, Tier } from '../storage/driver.js';
import { buildKey, checkSegments } from './keys.js';
import { isMediaType, resolveMediaType } from './media-type.js';
import { interpolate, type TemplateScope } from './templates.js';

export interface PersistSpec {
  type: 'blob';
  tier?: Tier;
  path?: string;
  filename?: string;
  contentType?: string;
  slot?: string;
}

export interface SlotBinding {
  root?: string;
  connection?: string;
  profileId?: string;
  prefix?: string;
}

export interface StepIdentity {
  workspace: string;
  flowSlug: string;
  stepId: string;
  runId?: string;
}

/** Where a persist will land, decided before the upstream request is made. */
export interface PlacementPlan {
  store: string;
  tier: Tier;
  /** Key segments before the filename. */
  dirSegments: string[];
  /** Interpolated filename segments, or undefined to default from the response. */
  filenameSegments?: string[];
  scope?: Omit<StorageScope, 'relativePath'> & { pathSegments: string[] };
  contentType?: string;
}

export interface Placement {
  store: string;
  tier: Tier;
  key: string;
  contentType: string;
  storage?: StorageScope;
}

/**
 * Resolves templates and the slot root up front, so a template or path error
 * fails the step before any upstream request is made.
 */
export function planPlacement(config: Config, id: StepIdentity, spec: PersistSpec, slots: Record<string, SlotBinding>, scope: TemplateScope): PlacementPlan {
  const tier: Tier = spec.tier ?? 'retained';
  const path = spec.path === undefined ? [] : checkSegments(interpolate(spec.path, scope, 'persist.path'), 'persist.path', { allowEmpty: true });
  const filenameSegments = spec.filename === undefined ? undefined : checkSegments(interpolate(spec.filename, scope, 'persist.filename'), 'persist.filename');
  // Checked here, before the upstream request, not when the response arrives.
  const contentType = spec.contentType === undefined ? undefined : resolveMediaType(spec.contentType, 'persist.content-type');

  if (spec.slot === undefined) {
    checkSegments(id.flowSlug, 'flow-slug');
    checkSegments(id.stepId, 'step-id');
    return {
      store: config.tiers[tier].store,
      tier,
      dirSegments: ['persist', id.flowSlug, id.stepId, randomUUID(), ...path],
      ...(filenameSegments ? { filenameSegments } : {}),
      ...(contentType ? { contentType } : {}),
    };
  }

  const slotName = spec.slot.replace(/^:/, '');
  // Own keys only: "__proto__" or "toString" would otherwise resolve through Object.prototype.
  const binding = Object.hasOwn(slots, slotName) ? slots[slotName] : undefined;
  if (!binding) {
    throw new BlobgateError('invalid_request', `persist.slot "${slotName}" has no binding in "slots"; add slots.${slotName} with a root (or profile-id and prefix).`, { slot: slotName });
  }
  const root = resolveSlotRoot(slotName, binding, scope);
  const store = storeForTier(config, tier, binding.connection, `slots.${slotName}.connection`, { slot: slotName });
  return {
    store,
    tier,
    dirSegments: ['storage', ...root, ...path],
    ...(filenameSegments ? { filenameSegments } : {}),
    scope: { slot: slotName, root: root.join('/'), pathSegments: path },
    ...(contentType ? { contentType } : {}),
  };
}

/**
 * The store a write of `tier` lands in: the slot's connection, else the
 * tier's store. A store is bound to the tier(s) that name it in `tiers`, and
 * a write whose tier does not match is refused before any byte moves:
 *
 * - ephemeral writes go only to the ephemeral tier's store, whose expiry
 *   (local sweep, or the bucket lifecycle rule) removes them;
 * - retained writes go anywhere except a store that backs the ephemeral tier
 *   alone (its lifecycle rule would delete them); a store no tier names (a
 *   slot's own store) takes retained writes.
 *
 * Wherever the bytes land, the tier decides the cap and the expiry
 * (persist-body.ts). README "Configuration", "Tiers and stores", states the rule.
 */
export function storeForTier(config: Config, tier: Tier, connection: string | undefined, field: string, details: Record<string, string> = {}): string {
  const store = connection ?? config.tiers[tier].store;
  if (!Object.hasOwn(config.stores, store)) throw new BlobgateError('invalid_request', `${field} names store "${store}", which is not configured.`, details);
  const { retained, ephemeral } = config.tiers;
  if (tier === 'ephemeral' && store !== ephemeral.store) {
    throw new BlobgateError(
      'invalid_request',
      `${field} names store "${store}", which does not back the ephemeral tier: ephemeral blobs go only to "${ephemeral.store}", where they expire. Persist with tier "retained", or leave out the connection.`,
      { ...details, store, tier },
    );
  }
  if (tier === 'retained' && store === ephemeral.store && store !== retained.store) {
    throw new BlobgateError(
      'invalid_request',
      `${field} names store "${store}", which backs only the ephemeral tier, where blobs expire: a retained blob does not go there. Name another store, or persist with tier "ephemeral".`,
      { ...details, store, tier },
    );
  }
  return store;
}

/** An unset root defaults to installations/<profile-id>/<prefix> (docs/seed-contract.md#slots). */
function resolveSlotRoot(slot: string, binding: SlotBinding, scope: TemplateScope): string[] {
  if (binding.root !== undefined) return checkSegments(binding.root, `slots.${slot}.root`);
  if (binding.profileId === undefined || binding.prefix === undefined) {
    throw new BlobgateError('invalid_request', `slots.${slot} needs either "root", or "profile-id" and "prefix" for the default root installations/<profile-id>/<prefix>.`, { slot });
  }
  const profile = checkSegments(binding.profileId, `slots.${slot}.profile-id`);
  const prefix = checkSegments(interpolate(binding.prefix, scope, `slots.${slot}.prefix`), `slots.${slot}.prefix`);
  return ['installations', ...profile, ...prefix];
}

/** Completes the plan once the response headers are known: default filename and content type. */
export function finishPlacement(plan: PlacementPlan, workspace: string, upstream: { url: string; contentType?: string }): Placement {
  if (plan.contentType !== undefined && !isMediaType(plan.contentType)) {
    throw new BlobgateError('invalid_request', `content-type ${JSON.stringify(plan.contentType)} is not a media type like text/csv or application/pdf.`, { field: 'content-type' });
  }
  // An upstream's malformed type is not the caller's mistake: store the bytes as octet-stream.
  const responseType = upstream.contentType?.trim() && isMediaType(upstream.contentType.trim()) ? upstream.contentType.trim() : undefined;
  const filename = plan.filenameSegments ?? [defaultFilename(upstream.url, plan.contentType ?? responseType)];
  const contentType = plan.contentType ?? responseType ?? (mime.lookup(filename.at(-1) ?? '') || 'application/octet-stream');
  const key = buildKey(workspace, [...plan.dirSegments, ...filename]);
  return {
    store: plan.store,
    tier: plan.tier,
    key,
    contentType,
    ...(plan.scope
      ? { storage: { slot: plan.scope.slot, root: plan.scope.root, relativePath: [...plan.scope.pathSegments, ...filename].join('/') } }
      : {}),
  };
}

/** The last segment of the URL path, else `body` plus the extension mime-types gives the content type. */
export function defaultFilename(url: string, contentType: string | undefined): string {
  try {
    const last = new URL(url).pathname.split('/').at(-1) ?? '';
    const decoded = decodeURIComponent(last);
    if (decoded !== '') {
      checkSegments(decoded, 'filename');
      return decoded;
    }
  } catch {
    // fall through to the content-type default: a URL segment that is not a valid key segment is not used
  }
  const ext = contentType ? mime.extension(contentType) : false;
  return ext ? `body.${ext}` : 'body';
}

export interface UploadTarget {
  workspace: string;
  /** Default retained. */
  tier?: Tier;
  filename: string;
  path?: string;
  slot?: string;
  binding?: SlotBinding;
  contentType?: string;
}

/**
 * Where an upload lands: `workspaces/<ws>/uploads/<uuid>/<path>/<filename>`,
 * or with a slot `workspaces/<ws>/storage/<root>/<path>/<filename>` like a slot
 * persist. Uploads go to the retained tier unless they ask for the ephemeral
 * one, into the store the tier takes (storeForTier, as a persist). Paths are
 * literal (no templates: an upload has no step params).
 */
export function uploadPlacement(config: Config, target: UploadTarget): Placement {
  const tier: Tier = target.tier ?? 'retained';
  const path = target.path === undefined ? [] : checkSegments(target.path, 'path', { allowEmpty: true });
  const filename = checkSegments(target.filename, 'filename');
  let plan: PlacementPlan;
  if (target.slot === undefined) {
    plan = { store: config.tiers[tier].store, tier, dirSegments: ['uploads', randomUUID(), ...path], filenameSegments: filename };
  } else {
    const slot = target.slot.replace(/^:/, '');
    const binding = target.binding ?? {};
    const root = resolveSlotRoot(slot, binding, {});
    const store = storeForTier(config, tier, binding.connection, 'connection', { field: 'connection' });
    plan = { store, tier, dirSegments: ['storage', ...root, ...path], filenameSegments: filename, scope: { slot, root: root.join('/'), pathSegments: path } };
  }
  if (target.contentType) plan.contentType = target.contentType;
  return finishPlacement(plan, target.workspace, { url: 'upload:' });
}
