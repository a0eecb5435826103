/**
 * Evidence reads and the few documents evidence keeps, in the `audit` container (docs/audit.md#cosmos-db-layout):
 * policy files (`docType: "policy-file"`, id = pk = `policy-file-<sha256>`, never expire) and the last
 * verification result (`docType: "verification"`, id = pk = `last-verification`). Chains and heads come
 * from the audit store that writes them (`readChains`, shared/cosmos/audit-store.ts).
 */
import type { Container } from "@azure/cosmos";
import { type ChainHead, recordId, resourceKey } from "../audit/chain.js";
import type {
  ChainSnapshot,
  EvidenceStore,
  StoredPolicyFile,
  VerificationSummary,
} from "../ports/evidence-store.js";
import type { CosmosAuditStore } from "./audit-store.js";
import { isConflict, stripFields } from "./errors.js";

const policyFileId = (sha256: string) => `policy-file-${sha256}`;
const VERIFICATION_ID = "last-verification";

export class CosmosEvidenceStore implements EvidenceStore {
  constructor(
    private readonly container: Container,
    private readonly audit: CosmosAuditStore,
  ) {}

  async heads(): Promise<ChainHead[]> {
    const out: ChainHead[] = [];
    const query = {
      query: 'SELECT c.resourceId, c.seq, c.hash, c.recordId FROM c WHERE c.docType = "head" AND c.seq > 0',
    };
    for await (const page of this.container.items
      .query<ChainHead>(query, { maxItemCount: 1000 })
      .getAsyncIterator()) {
      out.push(...page.resources);
    }
    return out;
  }

  async recordTime(resourceId: string, seq: number): Promise<string | undefined> {
    const record = await this.audit.readRecordDoc(resourceKey(resourceId), recordId(resourceId, seq));
    return record?.time;
  }

  async snapshot(opts: { resourceId?: string } = {}): Promise<ChainSnapshot> {
    const { chains, heads } = await this.audit.readChains(opts);
    const chainHeads = new Map<string, ChainHead>();
    for (const [pk, h] of heads)
      chainHeads.set(pk, { resourceId: h.resourceId, seq: h.seq, hash: h.hash, recordId: h.recordId });
    return { chains, heads: chainHeads };
  }

  async putPolicyFile(file: Omit<StoredPolicyFile, "storedAt">, now: Date): Promise<void> {
    const id = policyFileId(file.sha256);
    try {
      await this.container.items.create(
        { id, pk: id, docType: "policy-file", ...file, storedAt: now.toISOString() },
        { disableAutomaticIdGeneration: true },
      );
    } catch (err) {
      if (!isConflict(err)) throw err; // stored before: the same bytes, by their hash
    }
  }

  async getPolicyFile(sha256: string): Promise<StoredPolicyFile | undefined> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    const id = policyFileId(sha256);
    const { resource } = await this.container.item(id, id).read<Record<string, unknown>>();
    if (!resource) return undefined;
    const { id: _i, docType: _d, ...file } = stripFields(resource);
    return file as unknown as StoredPolicyFile;
  }

  async saveVerification(summary: VerificationSummary): Promise<void> {
    await this.container.items.upsert({
      id: VERIFICATION_ID,
      pk: VERIFICATION_ID,
      docType: "verification",
      ...summary,
    });
  }

  async lastVerification(): Promise<VerificationSummary | undefined> {
    const { resource } = await this.container
      .item(VERIFICATION_ID, VERIFICATION_ID)
      .read<Record<string, unknown>>();
    if (!resource) return undefined;
    const { id: _i, docType: _d, ...summary } = stripFields(resource);
    return summary as unknown as VerificationSummary;
  }
}
