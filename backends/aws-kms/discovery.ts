import type { Logger } from 'pino';
import { describeError } from '../../src/errors.js';
import type { KmsApi } from './client.js';

/** How long a key found without the ring tag is not asked again (ListResourceTags is rate-limited). */
const UNTAGGED_TTL_MS = 60 * 60 * 1000;
/** ListResourceTags calls in flight while scanning an account. */
const SCAN_CONCURRENCY = 4;

/**
 * Finds the ring's keys by tag (`wfid:ring=<ring>`), as SPIRE's KMS key manager does: AWS
 * asymmetric keys have no versions, so each version is a key carrying the ring tag.
 *
 * KMS cannot filter ListKeys by tag, so every key's tags are read once; keys without the tag
 * are remembered for an hour, keys with it are checked on every refresh (so removing the tag
 * takes a key out of the ring at once). A key tagged later is seen within the hour.
 */
export class TagDiscovery {
  private readonly untagged = new Map<string, number>();

  constructor(
    private readonly api: KmsApi,
    private readonly tagKey: string,
    private readonly ring: string,
    private readonly logger: Logger,
  ) {}

  /** Key ids tagged for the ring. */
  async find(): Promise<string[]> {
    const now = Date.now();
    const ids = (await this.api.listKeyIds()).filter((id) => (this.untagged.get(id) ?? 0) <= now);
    const found: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        if (await this.isTagged(id)) found.push(id);
        else this.untagged.set(id, now + UNTAGGED_TTL_MS);
      }
    };
    await Promise.all(Array.from({ length: Math.min(SCAN_CONCURRENCY, ids.length) }, worker));
    return found;
  }

  private async isTagged(id: string): Promise<boolean> {
    try {
      const tags = await this.api.listTags(id);
      return tags.some((tag) => tag.TagKey === this.tagKey && tag.TagValue === this.ring);
    } catch (err) {
      const code = (err as { code?: string }).code;
      // AWS managed keys and keys the role may not read: not ours. Outages still fail the listing.
      if (code === 'ERR_BACKEND' || code === 'ERR_KEY_NOT_FOUND') {
        this.logger.debug(
          { keyId: id, err: describeError(err) },
          'skipping a key whose tags cannot be read',
        );
        return false;
      }
      throw err;
    }
  }
}
