/**
 * HTTP trigger `approvalPage` (`/api/approvals/{id}`): for cards posted through a Teams Workflows
 * webhook, whose buttons can only open a URL. GET shows the request; POST decides. Requires the
 * signed one-time token from the card and, in Azure, a signed-in approver listed in APPROVER_OBJECT_IDS.
 */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { trustedClientPrincipal } from "../shared/approvals/principal.js";
import { verifyApprovalToken } from "../shared/approvals/tokens.js";
import type { Approval } from "../shared/ports/approval-store.js";
import { pseudonymize } from "../shared/redact.js";
import { getRuntime, type Runtime } from "../shared/runtime.js";
import { assertJsonTextDepth } from "../shared/signals/body.js";
import { errorResponse, json, readBodyText } from "./http.js";

/** The decision form holds a token and a verb: a few hundred bytes. */
const MAX_FORM_BYTES = 65_536;

/**
 * The form body, size-bounded (413) and held to the same structural bound as every other body
 * (400 `TooDeeplyNested`): a browser percent-encodes brackets, so only a hostile body trips it.
 */
async function readFormBody(req: HttpRequest): Promise<string> {
  const text = await readBodyText(req, MAX_FORM_BYTES);
  assertJsonTextDepth(text);
  return text;
}

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

function page(title: string, body: string, status = 200): HttpResponseInit {
  return {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
    },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code{word-break:break-all}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left}button{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}</style>
</head><body><h1>${esc(title)}</h1>${body}</body></html>`,
  };
}

/** Who decides: the signed-in approver (Azure), or the local developer. Undefined = refused. */
function approverOf(req: HttpRequest, runtime: Runtime): { id: string } | { refused: string } {
  const trusted = trustedClientPrincipal(req.headers.get("x-ms-client-principal"));
  if ("refused" in trusted) return trusted;
  const { principal } = trusted;
  const allowed = runtime.config.approvers.objectIds.map((s) => s.toLowerCase());
  if (!principal?.objectId) {
    if (runtime.config.inAzure) return { refused: "sign in first (App Service Authentication)" };
    // With approvers configured, a decision always needs a principal that can be checked against them.
    if (allowed.length > 0)
      return {
        refused:
          "sign in first: approvers are configured (APPROVER_OBJECT_IDS), so a decision needs a signed-in principal",
      };
    // Local stack without approvers and without sign-in: the developer, as a stable pseudonym.
    return { id: pseudonymize(`local:${process.env.USER ?? "developer"}`, runtime.config.pseudonymKey) };
  }
  if (runtime.config.inAzure || allowed.length > 0) {
    if (!allowed.includes(principal.objectId.toLowerCase()))
      return { refused: "you are not an authorised approver" };
  }
  return { id: pseudonymize(principal.objectId, runtime.config.pseudonymKey) };
}

function describe(a: Approval): string {
  const rows = a.changes
    .map(
      (c) =>
        `<tr><td><code>${esc(c.path)}</code></td><td><code>${esc(JSON.stringify(c.from))}</code></td><td><code>${esc(JSON.stringify(c.to))}</code></td></tr>`,
    )
    .join("");
  return `<p>${esc(a.summary)}</p>
<p><strong>Policy</strong> ${esc(a.policy)} · <strong>Kind</strong> ${esc(a.kind)} · <strong>State</strong> ${esc(a.state)} · <strong>Expires</strong> ${esc(a.expiresAt)}</p>
<p><strong>Resource</strong> <code>${esc(a.target.resourceId)}</code></p>
<table><thead><tr><th>Field</th><th>Now</th><th>After</th></tr></thead><tbody>${rows}</tbody></table>${decided(a)}${runState(a)}${refusals(a)}`;
}

/** Who decided and where (pseudonymous, as in the trail), or when it expired. */
function decided(a: Approval): string {
  if (a.state === "expired")
    return `<p><strong>Expired</strong> ${esc(a.expiresAt)} without a decision: nothing was changed.</p>`;
  if (a.state === "pending" || !a.decidedAt) return "";
  const via =
    a.decidedVia === "teams" ? "in Teams" : a.decidedVia === "cli" ? "with the CLI" : "on this page";
  return `<p><strong>${a.state === "approved" ? "Approved" : "Rejected"}</strong> ${esc(a.decidedAt)} by approver <code>${esc(a.decidedBy ?? "?")}</code> ${via}${a.state === "rejected" ? ": nothing was changed" : ""}.</p>`;
}

/** How the approved change went: done, or due again after a transient failure, or given up. */
function runState(a: Approval): string {
  const run = a.run;
  if (a.state !== "approved" || !run) return "";
  if (run.state === "done" && run.outcome === "pending-approval")
    return `<p><strong>Change</strong> not applied: the resource changed since the request, so the approved change no longer fits.${run.reason ? ` ${esc(run.reason)}` : ""}</p>`;
  if (run.state === "done")
    return `<p><strong>Change</strong> ${esc(run.outcome ?? "done")}${run.reason ? ` — ${esc(run.reason)}` : ""}</p>`;
  if (run.state === "gave-up")
    return `<p><strong>Change</strong> not applied: ${esc(run.reason ?? "the approval's validity ended")}</p>`;
  const last = run.lastError
    ? ` Last attempt failed (${esc(run.lastError.code)} at ${esc(run.lastError.step)}).`
    : "";
  return `<p><strong>Change</strong> approved and due: it is applied automatically, no second click is needed.${last}${run.nextAttemptAt && run.attempts > 0 ? ` Next attempt ${esc(run.nextAttemptAt)}.` : ""}</p>`;
}

function refusals(a: Approval): string {
  if (!a.refusals?.length) return "";
  const items = a.refusals.map((r) => `<li>${esc(r.at)}: ${esc(r.reason)}</li>`).join("");
  return `<p><strong>Refused decisions</strong></p><ul>${items}</ul>`;
}

export async function handleApprovalPage(req: HttpRequest): Promise<HttpResponseInit> {
  const runtime = await getRuntime();
  try {
    const id = req.params.id ?? "";
    if (!/^[0-9a-f-]{36}$/i.test(id))
      return json(400, {
        error: { code: "InvalidApprovalId", message: "approval ID must be a UUID", path: "id" },
      });
    let token = req.query.get("token") ?? "";
    let decision: string | null = null;
    if (req.method === "POST") {
      const form = new URLSearchParams(await readFormBody(req));
      token = form.get("token") ?? token;
      decision = form.get("decision");
      if (decision !== "approve" && decision !== "reject") {
        return json(400, {
          error: {
            code: "InvalidDecision",
            message: "decision must be 'approve' or 'reject'",
            path: "decision",
          },
        });
      }
    }
    const now = runtime.clock.now();
    if (!token || !(await verifyApprovalToken(token, id, runtime.config.approvers.signingKey, now))) {
      return page("Link not valid", "<p>This approval link is invalid or has expired.</p>", 403);
    }
    const approver = approverOf(req, runtime);
    if ("refused" in approver) return page("Not allowed", `<p>${esc(approver.refused)}.</p>`, 403);
    const approval = await runtime.stores.approvals.get(id);
    if (!approval) return page("Not found", "<p>No such approval request.</p>", 404);

    if (req.method === "GET") {
      const form =
        approval.state === "pending"
          ? `<form method="post"><input type="hidden" name="token" value="${esc(token)}">
<button name="decision" value="approve">Approve</button><button name="decision" value="reject">Reject</button></form>`
          : `<p>This request is already <strong>${esc(approval.state)}</strong>.</p>`;
      return page("driftguard approval", describe(approval) + form);
    }
    const result = await runtime.pipeline.decideApproval(
      id,
      decision === "approve" ? "approved" : "rejected",
      {
        id: approver.id,
        decidedAt: now.toISOString(),
        via: "approval-page",
      },
    );
    if (result.refused)
      return page(
        "Not allowed",
        `${describe(result.approval ?? approval)}<p>${esc(result.error ?? "refused")}.</p>`,
        403,
      );
    if (result.error)
      return page(
        "Nothing changed",
        `<p class="why">Your decision changed nothing: ${esc(result.error)}.</p>${describe(result.approval ?? approval)}`,
        409,
      );
    const outcomes = result.decisions
      .map((d) => `<li>${esc(d.outcome)} — ${esc(d.reason ?? d.summary ?? "")}</li>`)
      .join("");
    return page(
      `Request ${decision === "approve" ? "approved" : "rejected"}`,
      `${describe(result.approval!)}<ul>${outcomes}</ul>`,
    );
  } catch (err) {
    return errorResponse(err, runtime.log, "approvals");
  }
}
