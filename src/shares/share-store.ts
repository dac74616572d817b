import { BlobgateError } from '../errors.js';
import type { RecordStore } from '../storage/records.js';
import type { StoreRegistry } from '../storage/registry.js';
import { isShareToken, newShareToken, shareRecordKey, SHARES_PREFIX } from './token.js';

/**
 * What a share record holds (docs/shares.md#records). Never the token: the
 * record's key is the token's hash, and nothing in the body leads back to it.
 */
export interface ShareRecord {
  workspace: string;
  /** The shared resource, as its res:// URI. */
  uri: string;
  title?: string;
  /** A same-origin relative path, already checked by `safeClaimUrl`. */
  claimUrl?: string;
  allowDownload: boolean;
  createdAt: string;
  expiresAt: string;
}

const VERSION = 1;

/**
 * Share records in the store's records (src/storage/records.ts). Every lookup
 * reads the store, nothing is cached: a revoke (a record delete) is seen at
 * once by every replica, and an expired record is a missing one.
 */
export class ShareStore {
  constructor(private readonly records: RecordStore) {}

  /** Stores a new share and answers its token. */
  async create(record: ShareRecord): Promise<string> {
    const body = Buffer.from(JSON.stringify({ version: VERSION, ...record }), 'utf8');
    // 256 random bits do not collide; the exclusive create makes sure a second share never replaces a first.
    for (let attempt = 0; attempt < 3; attempt++) {
      const token = newShareToken();
      if (await this.records.create(shareRecordKey(token), body)) return token;
    }
    throw new BlobgateError('internal', 'Three fresh share tokens were all taken; the random source is broken.');
  }

  /** The live share of `token`, or undefined (unknown, revoked, expired). An expired record is removed on the way. */
  async find(token: string, now = Date.now()): Promise<ShareRecord | undefined> {
    if (!isShareToken(token)) return undefined;
    const key = shareRecordKey(token);
    const body = await this.records.get(key);
    if (body === undefined) return undefined;
    const record = decode(body);
    if (Date.parse(record.expiresAt) <= now) {
      // Best effort: a record left here is still refused, and the records' lifecycle rule removes it later.
      await this.records.delete(key).catch(() => undefined);
      return undefined;
    }
    return record;
  }

  /**
   * Revokes `token` if it is a live share of `workspace`; false when there is
   * none there (a share of another workspace counts as none, so a token of
   * one workspace learns nothing about another's shares).
   */
  async revoke(token: string, workspace: string): Promise<boolean> {
    const record = await this.find(token);
    if (!record || record.workspace !== workspace) return false;
    await this.records.delete(shareRecordKey(token));
    return true;
  }
}

/**
 * Removes every share record whose expiry has passed (or that cannot be read),
 * one page of the global `shares/` tree at a time; resolves with how many it
 * removed. For a periodic sweep beside the jobs' (records are otherwise removed
 * only when an expired token is looked up again).
 */
export async function sweepExpiredShares(records: RecordStore, now = Date.now()): Promise<number> {
  let removed = 0;
  let cursor: string | undefined;
  do {
    const page = await records.list(SHARES_PREFIX, { limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const key of page.keys) {
      const body = await records.get(key);
      if (body === undefined) continue;
      let expired: boolean;
      try {
        expired = Date.parse(decode(body).expiresAt) <= now;
      } catch {
        expired = true;
      }
      if (expired) {
        await records.delete(key);
        removed++;
      }
    }
    cursor = page.cursor;
  } while (cursor);
  return removed;
}

function decode(body: Buffer): ShareRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw unreadable(err);
  }
  const r = parsed as Partial<ShareRecord> & { version?: unknown };
  const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
  if (
    r === null ||
    typeof r !== 'object' ||
    r.version !== VERSION ||
    typeof r.workspace !== 'string' ||
    typeof r.uri !== 'string' ||
    typeof r.allowDownload !== 'boolean' ||
    typeof r.createdAt !== 'string' ||
    typeof r.expiresAt !== 'string' ||
    Number.isNaN(Date.parse(r.expiresAt)) ||
    !optionalString(r.title) ||
    !optionalString(r.claimUrl)
  ) {
    throw unreadable(undefined);
  }
  return {
    workspace: r.workspace,
    uri: r.uri,
    allowDownload: r.allowDownload,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    ...(r.title !== undefined ? { title: r.title } : {}),
    ...(r.claimUrl !== undefined ? { claimUrl: r.claimUrl } : {}),
  };
}

function unreadable(cause: unknown): BlobgateError {
  return new BlobgateError('storage_error', 'A share record in the store is not readable.', undefined, { cause });
}

/**
 * The shares of a gateway: in the records of the retained tier's store
 * (docs/shares.md#records), the one store every replica shares.
 */
export function sharesIn(stores: StoreRegistry, retainedStore: string): ShareStore {
  const records = stores.get(retainedStore).records;
  if (!records) {
    throw new BlobgateError('storage_error', `The retained tier's store "${retainedStore}" keeps no records, so share links cannot be kept; put the retained tier on a store that does.`);
  }
  return new ShareStore(records);
}
