/**
 * HTTP trigger `approvalPage` (`/api/approvals/{id}`): for cards posted through a Teams Workflows
 * webhook, whose buttons can only open a URL. GET shows the request; POST decides. Requires the
 * signed one-time token from the card; who may decide is the approval lifecycle's `authorize`
 * (shared/approvals/authorize.ts), the same rule as for the Teams bot.
 */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import type { DecidingPrincipal } from "../shared/approvals/authorize.js";
import { trustedClientPrincipal } from "../shared/approvals/principal.js";
import { reasonText, reasonTitle } from "../shared/approvals/reasons.js";
import { verifyApprovalToken } from "../shared/approvals/tokens.js";
import type { Approval } from "../shared/ports/approval-store.js";
import { getRuntime } from "../shared/runtime.js";
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

function page(
  title: string,
  body: string,
  status = 200,
  extra: Record<string, string> = {},
): HttpResponseInit {
  return {
    status,
    headers: {
      ...extra,
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

/** The person on the page, as far as the request's principal header can be believed (principal.ts). */
function principalOf(req: HttpRequest): { principal: DecidingPrincipal } | { refused: string } {
  const trusted = trustedClientPrincipal(req.headers.get("x-ms-client-principal"));
  if ("refused" in trusted) return trusted;
  return { principal: trusted.principal?.objectId ? { objectId: trusted.principal.objectId } : {} };
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
<p><strong>Why approval</strong> ${esc(reasonTitle(a.reason))}: ${esc(reasonText(a))}</p>
<table><thead><tr><th>Field</th><th>Now</th><th>After</th></tr></thead><tbody>${rows}</tbody></table>${context(a)}${cardPost(a)}${decided(a)}${runState(a)}${refusals(a)}`;
}

/** What the other kinds did for the same signal on this resource. */
function context(a: Approval): string {
  if (!a.context?.length) return "";
  const items = a.context
    .map(
      (c) =>
        `<li><code>${esc(c.kind)}</code> (policy ${esc(c.policy)}): ${esc(c.outcome)}${c.detail ? ` — ${esc(c.detail)}` : ""}</li>`,
    )
    .join("");
  return `<p><strong>Same change, other kinds</strong></p><ul>${items}</ul>`;
}

/** The card could not be posted to Teams: this page is then the only place the request shows. */
function cardPost(a: Approval): string {
  if (!a.cardPostFailed) return "";
  return `<p><strong>Teams card not posted</strong> ${esc(a.cardPostFailed.at)}: ${esc(a.cardPostFailed.error)}. Nobody was told in Teams; share this page with an approver.</p>`;
}

/** Who decided and where (pseudonymous, as in the trail), or when it expired. */
function decided(a: Approval): string {
  if (a.state === "expired" && a.supersededBy)
    return `<p><strong>Closed</strong> ${esc(a.decidedAt ?? a.expiresAt)}: superseded by approval <code>${esc(a.supersededBy)}</code>, a newer request for this resource and kind; nothing was changed.</p>`;
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
    const person = principalOf(req);
    if ("refused" in person) return page("Not allowed", `<p>${esc(person.refused)}.</p>`, 403);
    if (req.method === "GET") {
      // Seeing a request needs the same sign-in as deciding it (self-approval is refused on decision).
      const auth = runtime.approvalLifecycle.authorize(undefined, person.principal);
      if (!auth.allowed) return page("Not allowed", `<p>${esc(auth.reason)}.</p>`, 403);
      const approval = await runtime.stores.approvals.get(id);
      if (!approval) return page("Not found", "<p>No such approval request.</p>", 404);
      const form =
        approval.state === "pending"
          ? `<form method="post"><input type="hidden" name="token" value="${esc(token)}">
<button name="decision" value="approve">Approve</button><button name="decision" value="reject">Reject</button></form>`
          : `<p>This request is already <strong>${esc(approval.state)}</strong>.</p>`;
      return page("driftguard approval", describe(approval) + form);
    }
    const result = await runtime.approvalLifecycle.decide(
      id,
      decision === "approve" ? "approved" : "rejected",
      { principal: person.principal, via: "approval-page" },
    );
    if (!result.approval) return page("Not found", "<p>No such approval request.</p>", 404);
    // Only the person who caused the drift sees the request again (they had it); others see why not.
    if (result.refused === "self-approval")
      return page(
        "Not allowed",
        `${describe(result.approval)}<p>${esc(result.error ?? "refused")}.</p>`,
        403,
      );
    if (result.refused) return page("Not allowed", `<p>${esc(result.error ?? "refused")}.</p>`, 403);
    if (result.busy)
      return page(
        "Try again",
        `<p>The resource is busy with another change right now; your decision ${result.approval.state === "pending" ? "was not recorded" : "is recorded and runs shortly"}. Try again in a minute.</p>${describe(result.approval)}`,
        503,
        { "retry-after": "30" },
      );
    if (result.error)
      return page(
        "Nothing changed",
        `<p class="why">Your decision changed nothing: ${esc(result.error)}.</p>${describe(result.approval)}`,
        409,
      );
    const outcomes = result.decisions
      .map((d) => `<li>${esc(d.outcome)} — ${esc(d.reason ?? d.summary ?? "")}</li>`)
      .join("");
    return page(
      `Request ${decision === "approve" ? "approved" : "rejected"}`,
      `${describe(result.approval)}<ul>${outcomes}</ul>`,
    );
  } catch (err) {
    return errorResponse(err, runtime.log, "approvals");
  }
}
