/**
 * `enable-diagnostic-logs` in a sweep: diagnostic settings are extension resources that Resource
 * Graph does not hold, so each row a sweeping policy governs costs one ARM read — the list of its
 * diagnostic settings (`GET {scope}/providers/Microsoft.Insights/diagnosticSettings`, the list
 * `read` makes too), on the resource or, for a storage account, on `…/blobServices/default` where its
 * logs live. Rows no sweeping policy governs (type, scope, `sweep: false`) are not read. The decision
 * is `read`'s (`compliance.ts`): our setting, or another one, sends the groups to the workspace.
 */
import type { DiagnosticSettingResource } from "../../azure/diagnostic-settings.js";
import { asRemediationError } from "../../errors.js";
import { orNotFound } from "../arm-helpers.js";
import type { SweepRow, SweepSubject, SweepSupport } from "../types.js";
import {
  type CategoryGroup,
  canonicalType,
  decideLogs,
  type SettingView,
  type SupportedType,
  settingView,
} from "./compliance.js";

const ACCOUNT = "Microsoft.Storage/storageAccounts";
const BLOB_SERVICE = "Microsoft.Storage/storageAccounts/blobServices";

interface Params {
  workspaceId: string;
  categoryGroups: CategoryGroup[];
  settingName: string;
}

/** The diagnostic settings of the subject's log scope, as listed. */
export interface LogsRowState {
  logScope: string;
  settings: SettingView[];
}

/**
 * The subject a row stands for: the row itself; for a storage account, the account when a sweeping
 * policy names the account type (its logs are read on its blob service), else its blob service.
 */
function subjectOf(
  row: SweepRow,
  covers: (t: string) => boolean,
): { id: string; type: SupportedType } | undefined {
  const type = canonicalType(row.type);
  if (!type || type === BLOB_SERVICE) return undefined;
  if (type !== ACCOUNT || covers(ACCOUNT)) return { id: row.id, type };
  return covers(BLOB_SERVICE) ? { id: `${row.id}/blobServices/default`, type: BLOB_SERVICE } : undefined;
}

export const logsSweep: SweepSupport<Params, LogsRowState> = {
  reads: "per-row",
  rowTypes: (types) =>
    types.flatMap((t) => {
      const c = canonicalType(t);
      // A blob service is read through its account's row (blob services have no row of their own).
      return c === BLOB_SERVICE ? [ACCOUNT.toLowerCase()] : c ? [c.toLowerCase()] : [];
    }),
  async subjects(row, ctx): Promise<SweepSubject<LogsRowState>[]> {
    const subject = subjectOf(row, ctx.covers);
    if (!subject || !ctx.governing(subject.id, subject.type)) return [];
    const logScope = subject.type === ACCOUNT ? `${row.id}/blobServices/default` : subject.id;
    let listed: DiagnosticSettingResource[] | undefined;
    try {
      listed = await orNotFound(() => ctx.clients.monitor().list(logScope));
    } catch (err) {
      throw asRemediationError(err, {
        step: "read",
        resourceId: row.id,
        doing: "listing diagnostic settings",
      });
    }
    if (!listed) return []; // deleted since the snapshot: nothing to log
    const settings = listed.map(settingView);
    return [
      { resourceId: subject.id, resourceType: subject.type, tags: row.tags, state: { logScope, settings } },
    ];
  },
  finding(subject, params) {
    const decision = decideLogs(subject.state.settings, params);
    if (decision.compliant) return undefined;
    const groups = params.categoryGroups.join(", ");
    const where = subject.state.logScope === subject.resourceId ? "" : " (on its blob service)";
    if (!decision.own)
      return `no diagnostic setting sends ${groups} logs to the workspace${where}; '${params.settingName}' is missing`;
    return `diagnostic setting '${decision.own.name}'${where} does not send ${groups} logs to the workspace: ${decision.changes
      .map(
        (c) =>
          `${c.path.replace(/^diagnosticSettings\[[^\]]*\]\.properties\./, "")} is ${JSON.stringify(c.from)}`,
      )
      .join(", ")}`;
  },
};
