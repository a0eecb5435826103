import { describe, expect, it } from "vitest";
import type { ArmResource, AzureSimulator, Seed } from "../../dev/azure-sim/index.js";
import { RemediationError } from "../../shared/errors.js";
import { validatePolicyText } from "../../shared/policy/load.js";
import type { Policy } from "../../shared/policy/schema.js";
import {
  remediation as closeInternetInboundRule,
  type InboundRuleData,
  NSG_TYPE,
  type Params,
  paramsSchema,
  RULE_TYPE,
} from "../../shared/remediations/close-internet-inbound-rule/kind.js";
import { type NsgRule, offendingRules } from "../../shared/remediations/close-internet-inbound-rule/rules.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import type { ChangePlan, RemediationContext } from "../../shared/remediations/types.js";
import { kindContext, runKind } from "./kind-run.js";
import { useFreshHarness, useKindSimulator, writeSignals } from "./kind-sim.js";

const SUB = "00000000-0000-0000-0000-0000000000c1";
const RG = "rg-net";
const KIND = "close-internet-inbound-rule";
const NOW = new Date("2030-04-01T08:00:00.000Z");
const nsgId = (nsg: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/${nsg}`;
const ruleId = (nsg: string, rule: string) => `${nsgId(nsg)}/securityRules/${rule}`;

type RuleProps = Omit<NsgRule, "name" | "id" | "etag">;

/** ARM shape of an inline rule: `{name, properties}`. */
function rule(name: string, props: RuleProps) {
  return {
    name,
    properties: { protocol: "Tcp", sourcePortRange: "*", destinationAddressPrefix: "*", ...props },
  };
}

const DEFAULT_RULES = [
  {
    name: "AllowVnetInBound",
    properties: {
      priority: 65000,
      direction: "Inbound",
      access: "Allow",
      protocol: "*",
      sourceAddressPrefix: "VirtualNetwork",
      sourcePortRange: "*",
      destinationAddressPrefix: "VirtualNetwork",
      destinationPortRange: "*",
    },
  },
  {
    name: "AllowInternetOutBound",
    properties: {
      priority: 65001,
      direction: "Outbound",
      access: "Allow",
      protocol: "*",
      sourceAddressPrefix: "*",
      sourcePortRange: "*",
      destinationAddressPrefix: "Internet",
      destinationPortRange: "*",
    },
  },
];

function nsg(
  name: string,
  rules: ReturnType<typeof rule>[],
  tags: Record<string, string> = { env: "prod" },
): ArmResource {
  return {
    id: nsgId(name),
    name,
    type: NSG_TYPE,
    location: "westeurope",
    tags,
    properties: { securityRules: rules, defaultSecurityRules: DEFAULT_RULES },
  };
}

// The six mixed rules of the NSG-level scenario: exactly two offend.
const MIXED = [
  rule("open-ssh", {
    priority: 100,
    direction: "Inbound",
    access: "Allow",
    sourceAddressPrefix: "*",
    destinationPortRange: "22",
    description: "debug access",
  }),
  rule("open-rdp-list", {
    priority: 110,
    direction: "Inbound",
    access: "Allow",
    sourceAddressPrefix: "",
    sourceAddressPrefixes: ["10.0.0.0/8", "0.0.0.0/0"],
    destinationPortRanges: ["3389", "5985-5986"],
  }),
  rule("deny-all-in", {
    priority: 4000,
    direction: "Inbound",
    access: "Deny",
    sourceAddressPrefix: "*",
    destinationPortRange: "*",
  }),
  rule("allow-corp-https", {
    priority: 200,
    direction: "Inbound",
    access: "Allow",
    sourceAddressPrefix: "203.0.113.0/24",
    destinationPortRange: "443",
  }),
  rule("allow-out-any", {
    priority: 300,
    direction: "Outbound",
    access: "Allow",
    sourceAddressPrefix: "*",
    destinationPortRange: "*",
  }),
  rule("allow-lb", {
    priority: 310,
    direction: "Inbound",
    access: "Allow",
    sourceAddressPrefix: "AzureLoadBalancer",
    destinationPortRange: "*",
  }),
];

/** 32 rules: every combination of access × direction × source × port; 4 offend (2 with port 22). */
function manyRules() {
  const out: ReturnType<typeof rule>[] = [];
  let priority = 100;
  for (const access of ["Allow", "Deny"]) {
    for (const direction of ["Inbound", "Outbound"]) {
      for (const [si, source] of [
        { sourceAddressPrefix: "Internet" },
        { sourceAddressPrefixes: ["192.168.0.0/16", "::/0"] },
        { sourceAddressPrefix: "10.0.0.0/8" },
        { sourceAddressPrefixes: ["VirtualNetwork"] },
      ].entries()) {
        for (const port of ["22", "443"]) {
          out.push(
            rule(`r-${access}-${direction}-s${si}-p${port}`.toLowerCase(), {
              priority: priority++,
              access,
              direction,
              destinationPortRange: port,
              ...source,
            }),
          );
        }
      }
    }
  }
  return out;
}

const SEED: Seed = {
  resources: [
    nsg(
      "nsg-rule",
      [
        rule("allow-ssh-any", {
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          sourceAddressPrefix: "*",
          destinationPortRange: "22",
          description: "temp",
        }),
        rule("allow-https-vnet", {
          priority: 110,
          direction: "Inbound",
          access: "Allow",
          sourceAddressPrefix: "VirtualNetwork",
          destinationPortRange: "443",
        }),
        rule("allow-rdp-internet", {
          priority: 120,
          direction: "Inbound",
          access: "Allow",
          sourceAddressPrefix: "Internet",
          destinationPortRange: "3389",
        }),
      ],
      { env: "prod", owner: "net-team" },
    ),
    nsg("nsg-mixed", MIXED),
    nsg("nsg-many", manyRules()),
    nsg("nsg-ports", [
      rule("open-ssh", {
        priority: 100,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "*",
        destinationPortRange: "22",
      }),
      rule("open-https", {
        priority: 110,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "Internet",
        destinationPortRange: "443",
      }),
    ]),
    nsg("nsg-range", [
      rule("open-ssh", {
        priority: 100,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "0.0.0.0/0",
        destinationPortRange: "22",
      }),
      rule("open-https", {
        priority: 110,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "Any",
        destinationPortRange: "443",
      }),
    ]),
    nsg("nsg-compliant", [
      rule("allow-corp-ssh", {
        priority: 100,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "198.51.100.0/24",
        destinationPortRange: "22",
      }),
      rule("deny-all", {
        priority: 4000,
        direction: "Inbound",
        access: "Deny",
        sourceAddressPrefix: "*",
        destinationPortRange: "*",
      }),
    ]),
    nsg("nsg-faults", [
      rule("open-ssh", {
        priority: 100,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "*",
        destinationPortRange: "22",
      }),
      rule("allow-corp", {
        priority: 200,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "10.0.0.0/8",
        destinationPortRange: "*",
      }),
    ]),
    nsg("nsg-forbidden", [
      rule("open-a", {
        priority: 100,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "*",
        destinationPortRange: "22",
      }),
      rule("open-b", {
        priority: 110,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "*",
        destinationPortRange: "80",
      }),
      rule("allow-corp", {
        priority: 200,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "10.0.0.0/8",
        destinationPortRange: "*",
      }),
    ]),
    nsg("nsg-race", [
      rule("open-ssh", {
        priority: 100,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "*",
        destinationPortRange: "22",
      }),
      rule("open-web", {
        priority: 110,
        direction: "Inbound",
        access: "Allow",
        sourceAddressPrefix: "*",
        destinationPortRange: "80",
      }),
    ]),
  ],
};

const POLICY: Policy = {
  name: "nsg-no-internet-inbound",
  resourceTypes: [RULE_TYPE, NSG_TYPE],
  triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
  kind: KIND,
  params: {},
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 100,
};

const writeSignal = writeSignals({
  prefix: "nsg",
  subscriptionId: SUB,
  now: NOW,
  typeOf: (resourceId) => (resourceId.includes("/securityRules/") ? RULE_TYPE : NSG_TYPE),
});

/** Definition fields of every custom rule of an NSG in the simulator, by name. */
function simRules(sim: AzureSimulator, nsgName: string): Record<string, Record<string, unknown>> {
  const r = sim.getResource(nsgId(nsgName));
  const rules = (r?.properties?.securityRules ?? []) as {
    name: string;
    properties: Record<string, unknown>;
  }[];
  const out: Record<string, Record<string, unknown>> = {};
  for (const x of rules) {
    const { provisioningState: _p, ...props } = x.properties;
    out[x.name] = props;
  }
  return out;
}

function deletes(sim: AzureSimulator, nsgName: string) {
  return sim
    .writes({ pathIncludes: `/networkSecurityGroups/${nsgName}/` })
    .concat(sim.writes({ pathIncludes: `/networkSecurityGroups/${nsgName}?` }));
}

describe("close-internet-inbound-rule against the simulator", () => {
  const env = useKindSimulator(() => structuredClone(SEED));

  // These tests pin deletion; narrowing mixed-source rules (the default) has its own suite
  // (close-internet-inbound-rule-narrowing.test.ts).
  function ctxFor(
    resourceId: string,
    params: Partial<Params> = { narrowMixedRules: false },
  ): RemediationContext<Params> {
    return kindContext(closeInternetInboundRule, writeSignal(resourceId), {
      policy: POLICY,
      params: { narrowMixedRules: false, ...params },
      clients: env.clients,
      now: NOW,
    });
  }

  it("is registered under its contract name and supports NSGs and NSG rules only", () => {
    expect(builtinRegistry().get(KIND)).toBe(closeInternetInboundRule);
    expect(closeInternetInboundRule.supports(RULE_TYPE)).toBe(true);
    expect(closeInternetInboundRule.supports(NSG_TYPE.toLowerCase())).toBe(true);
    expect(closeInternetInboundRule.supports("Microsoft.Storage/storageAccounts")).toBe(false);
  });

  it("validates params: ports as numbers or ranges, strict object", () => {
    expect(paramsSchema.parse({ ports: [22, "20-30", "443"] })).toEqual({
      ports: [22, "20-30", "443"],
      narrowMixedRules: true,
    });
    expect(paramsSchema.parse({})).toEqual({ narrowMixedRules: true });
    for (const bad of [
      { ports: [] },
      { ports: [70000] },
      { ports: ["30-20"] },
      { ports: ["ssh"] },
      { ports: ["*"] },
      { port: [22] },
    ]) {
      const r = paramsSchema.safeParse(bad);
      expect(r.success, JSON.stringify(bad)).toBe(false);
    }
    const r = paramsSchema.safeParse({ ports: [22, "30-20"] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["ports", 1]);
  });

  it("rule-level write: deletes only that Internet-open rule and records its full definition", async () => {
    const ctx = ctxFor(ruleId("nsg-rule", "allow-ssh-any"));
    const { current, plan, verified } = await runKind(closeInternetInboundRule, ctx);
    expect(current.tags).toEqual({ env: "prod", owner: "net-team" });
    expect(plan.action).toBe("change");
    if (plan.action !== "change") return;
    expect(plan.changes).toEqual([
      {
        path: "properties.securityRules[allow-ssh-any]",
        from: {
          name: "allow-ssh-any",
          id: ruleId("nsg-rule", "allow-ssh-any"),
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          protocol: "Tcp",
          sourceAddressPrefix: "*",
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "22",
          description: "temp",
        },
        to: null,
      },
    ]);
    expect(verified).toEqual({ ok: true });
    const writes = deletes(env.sim, "nsg-rule");
    expect(writes.map((w) => `${w.method} ${w.path}`)).toEqual([
      `DELETE ${ruleId("nsg-rule", "allow-ssh-any")}`,
    ]);
    expect(env.sim.getResource(ruleId("nsg-rule", "allow-ssh-any"))).toBeUndefined();
    // The other Internet-open rule in the same NSG is not this signal's business.
    expect(Object.keys(simRules(env.sim, "nsg-rule")).sort()).toEqual([
      "allow-https-vnet",
      "allow-rdp-internet",
    ]);
  });

  it("rule-level: a compliant rule or a rule that is gone → noop, no write", async () => {
    const compliant = await runKind(closeInternetInboundRule, ctxFor(ruleId("nsg-rule", "allow-https-vnet")));
    expect(compliant.plan).toMatchObject({ action: "noop" });
    const gone = await runKind(closeInternetInboundRule, ctxFor(ruleId("nsg-rule", "allow-ssh-any")));
    expect(gone.plan).toEqual({ action: "noop", reason: "security rule 'allow-ssh-any' no longer exists" });
    const noNsg = await runKind(closeInternetInboundRule, ctxFor(ruleId("nsg-does-not-exist", "x")));
    expect(noNsg.plan.action).toBe("noop");
    expect(deletes(env.sim, "nsg-rule")).toHaveLength(1); // only the earlier test's delete
  });

  it("NSG-level write with mixed rules: exactly the 2 offending rules are deleted, nothing else changes", async () => {
    const before = simRules(env.sim, "nsg-mixed");
    const defaultsBefore = structuredClone(
      env.sim.getResource(nsgId("nsg-mixed"))?.properties?.defaultSecurityRules,
    );
    const { plan, verified } = await runKind(closeInternetInboundRule, ctxFor(nsgId("nsg-mixed")));
    expect(plan.action).toBe("change");
    if (plan.action !== "change") return;
    expect(plan.changes.map((c) => c.path)).toEqual([
      "properties.securityRules[open-ssh]",
      "properties.securityRules[open-rdp-list]",
    ]);
    expect(plan.changes[1]?.from).toMatchObject({
      sourceAddressPrefixes: ["10.0.0.0/8", "0.0.0.0/0"],
      destinationPortRanges: ["3389", "5985-5986"],
    });
    expect(plan.changes.every((c) => c.to === null)).toBe(true);
    expect(verified).toEqual({ ok: true });

    const writes = deletes(env.sim, "nsg-mixed");
    expect(writes.map((w) => `${w.method} ${w.path}`).sort()).toEqual(
      [`DELETE ${ruleId("nsg-mixed", "open-rdp-list")}`, `DELETE ${ruleId("nsg-mixed", "open-ssh")}`].sort(),
    );
    const after = simRules(env.sim, "nsg-mixed");
    const { "open-ssh": _a, "open-rdp-list": _b, ...kept } = before;
    expect(after).toEqual(kept);
    expect(env.sim.getResource(nsgId("nsg-mixed"))?.properties?.defaultSecurityRules).toEqual(defaultsBefore);
  });

  it("an NSG with 32 mixed rules loses exactly the offending ones (never a compliant rule)", async () => {
    const before = simRules(env.sim, "nsg-many");
    // Allow + Inbound + an Internet source (s0: "Internet", s1: a list with "::/0"), any port.
    const expected = [
      "r-allow-inbound-s0-p22",
      "r-allow-inbound-s0-p443",
      "r-allow-inbound-s1-p22",
      "r-allow-inbound-s1-p443",
    ];
    expect(
      offendingRules(Object.entries(before).map(([name, p]) => ({ name, ...(p as NsgRule) }))).map(
        (r) => r.name,
      ),
    ).toEqual(expected);
    expect(expected).toHaveLength(4);

    const { plan, verified } = await runKind(closeInternetInboundRule, ctxFor(nsgId("nsg-many")));
    expect(verified).toEqual({ ok: true });
    expect(plan.action === "change" && plan.changes.map((c) => c.path)).toEqual(
      expected.map((n) => `properties.securityRules[${n}]`),
    );
    const writes = deletes(env.sim, "nsg-many");
    expect(writes.every((w) => w.method === "DELETE")).toBe(true);
    expect(writes.map((w) => w.path.split("/").pop()).sort()).toEqual([...expected].sort());
    const after = simRules(env.sim, "nsg-many");
    expect(Object.keys(after)).toHaveLength(28);
    for (const [name, props] of Object.entries(before)) {
      if (expected.includes(name)) expect(after[name]).toBeUndefined();
      else expect(after[name]).toEqual(props);
    }
    // Second run: nothing left to do.
    const again = await runKind(closeInternetInboundRule, ctxFor(nsgId("nsg-many")));
    expect(again.plan.action).toBe("noop");
    expect(deletes(env.sim, "nsg-many")).toHaveLength(4);
  });

  it("ports filter: policy ports [22] leaves an Internet-open 443 rule alone", async () => {
    const { plan, verified } = await runKind(
      closeInternetInboundRule,
      ctxFor(nsgId("nsg-ports"), { ports: [22] }),
    );
    expect(plan.action === "change" && plan.changes.map((c) => c.path)).toEqual([
      "properties.securityRules[open-ssh]",
    ]);
    expect(verified).toEqual({ ok: true });
    expect(Object.keys(simRules(env.sim, "nsg-ports"))).toEqual(["open-https"]);
    expect(deletes(env.sim, "nsg-ports").map((w) => w.path)).toEqual([ruleId("nsg-ports", "open-ssh")]);
    // The remaining 443 rule is compliant for this policy: noop, no write.
    const again = await runKind(closeInternetInboundRule, ctxFor(nsgId("nsg-ports"), { ports: [22] }));
    expect(again.plan.action).toBe("noop");
    expect(deletes(env.sim, "nsg-ports")).toHaveLength(1);
  });

  it('ports filter: range "20-30" matches the port-22 rule only', async () => {
    const { plan } = await runKind(
      closeInternetInboundRule,
      ctxFor(nsgId("nsg-range"), { ports: ["20-30"] }),
    );
    expect(plan.action === "change" && plan.changes.map((c) => c.path)).toEqual([
      "properties.securityRules[open-ssh]",
    ]);
    expect(Object.keys(simRules(env.sim, "nsg-range"))).toEqual(["open-https"]);
  });

  it("already compliant NSG → noop, no write", async () => {
    const { plan } = await runKind(closeInternetInboundRule, ctxFor(nsgId("nsg-compliant")));
    expect(plan).toEqual({
      action: "noop",
      reason: "NSG 'nsg-compliant' has no rule allowing inbound traffic from the Internet",
    });
    expect(deletes(env.sim, "nsg-compliant")).toEqual([]);
  });

  it("429 with Retry-After and then a 500 on the DELETE: the SDK retries and the rule is removed", async () => {
    const path = "/networkSecurityGroups/nsg-faults/securityRules/open-ssh";
    env.sim.addFault({ method: "DELETE", path, status: 429, retryAfter: 1, count: 1 });
    env.sim.addFault({ method: "DELETE", path, status: 500, count: 1 });
    const started = Date.now();
    const { plan, verified } = await runKind(closeInternetInboundRule, ctxFor(nsgId("nsg-faults")));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // Retry-After: 1 was honoured
    expect(plan.action).toBe("change");
    expect(verified).toEqual({ ok: true });
    const attempts = env.sim.requests({ method: "DELETE", pathIncludes: path });
    expect(attempts.map((r) => r.status)).toEqual([429, 500, 202]);
    expect(deletes(env.sim, "nsg-faults").map((w) => w.path)).toEqual([ruleId("nsg-faults", "open-ssh")]);
    expect(Object.keys(simRules(env.sim, "nsg-faults"))).toEqual(["allow-corp"]);
  });

  it("permanent failure (403) on a DELETE → RemediationError at step apply; the other rules stay consistent", async () => {
    env.sim.addFault({
      method: "DELETE",
      path: "/networkSecurityGroups/nsg-forbidden/securityRules/open-b",
      status: 403,
      count: -1,
    });
    const before = simRules(env.sim, "nsg-forbidden");
    const ctx = ctxFor(nsgId("nsg-forbidden"));
    const { plan } = await runKind(closeInternetInboundRule, ctx, { apply: false });
    if (plan.action !== "change") throw new Error("expected a change plan");
    const err = await closeInternetInboundRule.apply(plan, ctx).catch((e: unknown) => e);
    env.sim.clearFaults();
    expect(err).toBeInstanceOf(RemediationError);
    const re = err as RemediationError;
    expect(re.step).toBe("apply");
    expect(re.statusCode).toBe(403);
    expect(re.retryable).toBe(false);
    expect(re.resourceId).toBe(ruleId("nsg-forbidden", "open-b"));
    expect(re.message).toContain("already done: 'open-a'");
    const after = simRules(env.sim, "nsg-forbidden");
    expect(after["open-a"]).toBeUndefined(); // deleted before the failure, as the message says
    expect(after["open-b"]).toEqual(before["open-b"]); // the failed one is intact
    expect(after["allow-corp"]).toEqual(before["allow-corp"]);
    // Verification reports the rule that is still there.
    const v = await closeInternetInboundRule.verify(plan, ctx);
    expect(v.ok).toBe(false);
    expect(v.detail).toContain("'open-b' still exists");
  });

  it("409 AnotherOperationInProgress on the DELETE → retryable RemediationError at step apply, rule intact", async () => {
    env.sim.putResource(
      nsg("nsg-busy", [
        rule("open-x", {
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          sourceAddressPrefix: "*",
          destinationPortRange: "22",
        }),
      ]),
    );
    env.sim.addFault({
      method: "DELETE",
      path: "/networkSecurityGroups/nsg-busy/securityRules/open-x",
      status: 409,
      count: -1,
      body: {
        error: {
          code: "AnotherOperationInProgress",
          message: "Another operation on this or dependent resource is in progress.",
        },
      },
    });
    const ctx = ctxFor(nsgId("nsg-busy"));
    const { plan } = await runKind(closeInternetInboundRule, ctx, { apply: false });
    if (plan.action !== "change") throw new Error("expected a change plan");
    const err = await closeInternetInboundRule.apply(plan, ctx).catch((e: unknown) => e);
    env.sim.clearFaults();
    expect(err).toBeInstanceOf(RemediationError);
    expect(err).toMatchObject({ step: "apply", statusCode: 409, retryable: true });
    expect(env.sim.getResource(ruleId("nsg-busy", "open-x"))).toBeDefined();
  });

  it("acts on current state: a rule narrowed to a restricted source between plan and apply is not deleted", async () => {
    const ctx = ctxFor(nsgId("nsg-race"));
    const { plan } = await runKind(closeInternetInboundRule, ctx, { apply: false });
    if (plan.action !== "change") throw new Error("expected a change plan");
    expect(plan.changes).toHaveLength(2);
    // Someone fixes open-web by hand before we apply.
    env.sim.putResource({
      id: ruleId("nsg-race", "open-web"),
      name: "open-web",
      type: RULE_TYPE,
      properties: {
        priority: 110,
        direction: "Inbound",
        access: "Allow",
        protocol: "Tcp",
        sourceAddressPrefix: "10.0.0.0/8",
        sourcePortRange: "*",
        destinationAddressPrefix: "*",
        destinationPortRange: "80",
      },
    });
    const err = await closeInternetInboundRule.apply(plan, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemediationError);
    expect((err as RemediationError).code).toBe("RuleChanged");
    expect((err as RemediationError).step).toBe("apply");
    expect((err as RemediationError).retryable).toBe(true);
    expect(deletes(env.sim, "nsg-race").filter((w) => w.method === "DELETE")).toEqual([]);

    // The redelivery re-reads: only the still-open rule goes.
    const { plan: replan, verified } = await runKind(closeInternetInboundRule, ctxFor(nsgId("nsg-race")));
    expect(replan.action === "change" && replan.changes.map((c) => c.path)).toEqual([
      "properties.securityRules[open-ssh]",
    ]);
    expect(verified).toEqual({ ok: true });
    expect(simRules(env.sim, "nsg-race")["open-web"]).toMatchObject({ sourceAddressPrefix: "10.0.0.0/8" });
  });

  it("a planned rule already gone at apply time is skipped (no DELETE) and verification passes", async () => {
    env.sim.putResource(
      nsg("nsg-gone", [
        rule("open-x", {
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          sourceAddressPrefix: "*",
          destinationPortRange: "8080",
        }),
      ]),
    );
    const ctx = ctxFor(nsgId("nsg-gone"));
    const { plan } = await runKind(closeInternetInboundRule, ctx, { apply: false });
    if (plan.action !== "change") throw new Error("expected a change plan");
    // Removed by someone else in between (directly in the store: no request through ARM).
    env.sim.putResource({ ...nsg("nsg-gone", []) });
    await closeInternetInboundRule.apply(plan as ChangePlan<InboundRuleData>, ctx);
    expect(deletes(env.sim, "nsg-gone")).toEqual([]);
    expect(await closeInternetInboundRule.verify(plan, ctx)).toEqual({ ok: true });
  });

  it("verify notices a sibling rule that changed after the plan", async () => {
    env.sim.putResource(
      nsg("nsg-verify", [
        rule("open-x", {
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          sourceAddressPrefix: "*",
          destinationPortRange: "8080",
        }),
        rule("corp", {
          priority: 200,
          direction: "Inbound",
          access: "Allow",
          sourceAddressPrefix: "10.0.0.0/8",
          destinationPortRange: "443",
        }),
      ]),
    );
    const ctx = ctxFor(nsgId("nsg-verify"));
    const { plan } = await runKind(closeInternetInboundRule, ctx, { apply: false });
    if (plan.action !== "change") throw new Error("expected a change plan");
    await closeInternetInboundRule.apply(plan, ctx);
    env.sim.putResource({
      id: ruleId("nsg-verify", "corp"),
      name: "corp",
      type: RULE_TYPE,
      properties: {
        priority: 200,
        direction: "Inbound",
        access: "Allow",
        protocol: "Tcp",
        sourceAddressPrefix: "10.0.0.0/8",
        sourcePortRange: "*",
        destinationAddressPrefix: "*",
        destinationPortRange: "8443",
      },
    });
    const v = await closeInternetInboundRule.verify(plan, ctx);
    expect(v).toEqual({ ok: false, detail: "security rule 'corp' (not planned for change) changed" });
  });

  it("a target of another type is refused at read with a typed error", async () => {
    const signal = writeSignal(
      `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/st1`,
    );
    const ctx = { ...ctxFor(nsgId("nsg-compliant")), target: signal.targets[0]!, signal };
    const err = await closeInternetInboundRule.read(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemediationError);
    expect((err as RemediationError).code).toBe("UnsupportedResourceType");
    expect((err as RemediationError).step).toBe("read");
  });
});

// ---------------------------------------------------------------------------------------------
// Through the pipeline (harness): audit records

describe("close-internet-inbound-rule through the pipeline", () => {
  const harnessSeed = (): Seed => ({
    resources: [
      nsg("nsg-a", MIXED),
      nsg("nsg-b", [
        rule("open-ssh", {
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          sourceAddressPrefix: "*",
          destinationPortRange: "22",
        }),
      ]),
      nsg(
        "nsg-excluded",
        [
          rule("open-ssh", {
            priority: 100,
            direction: "Inbound",
            access: "Allow",
            sourceAddressPrefix: "*",
            destinationPortRange: "22",
          }),
        ],
        { "driftguard:exclude": "true" },
      ),
    ],
  });
  const fresh = useFreshHarness(harnessSeed, POLICY, NOW);

  it("enforce: one `remediated` record with the full rule definitions in `changes`", async () => {
    const hh = await fresh();
    const [d] = await hh.handle(writeSignal(nsgId("nsg-a")));
    expect(d?.outcome).toBe("remediated");
    const records = await hh.records();
    expect(records).toHaveLength(1);
    const rec = records[0]!;
    expect(rec).toMatchObject({
      outcome: "remediated",
      kind: KIND,
      policy: POLICY.name,
      resourceId: nsgId("nsg-a"),
      resourceType: NSG_TYPE,
    });
    expect(rec.changes).toEqual([
      {
        path: "properties.securityRules[open-ssh]",
        from: {
          name: "open-ssh",
          id: ruleId("nsg-a", "open-ssh"),
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          protocol: "Tcp",
          sourceAddressPrefix: "*",
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "22",
          description: "debug access",
        },
        to: null,
      },
      {
        path: "properties.securityRules[open-rdp-list]",
        from: {
          name: "open-rdp-list",
          id: ruleId("nsg-a", "open-rdp-list"),
          priority: 110,
          direction: "Inbound",
          access: "Allow",
          protocol: "Tcp",
          sourceAddressPrefix: "",
          sourceAddressPrefixes: ["10.0.0.0/8", "0.0.0.0/0"],
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRanges: ["3389", "5985-5986"],
        },
        // Mixed sources (the default narrowMixedRules): only the Internet prefix goes.
        to: {
          name: "open-rdp-list",
          id: ruleId("nsg-a", "open-rdp-list"),
          priority: 110,
          direction: "Inbound",
          access: "Allow",
          protocol: "Tcp",
          sourceAddressPrefix: "",
          sourceAddressPrefixes: ["10.0.0.0/8"],
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRanges: ["3389", "5985-5986"],
        },
      },
    ]);
    expect(hh.sim.writes().map((w) => `${w.method} ${w.path}`)).toEqual([
      `PUT ${ruleId("nsg-a", "open-rdp-list")}`,
      `DELETE ${ruleId("nsg-a", "open-ssh")}`,
    ]);
    // The events our own writes raise (a rule-level write on a now-absent rule, and on the
    // narrowed rule) are compliant.
    const [again] = await hh.handle(writeSignal(ruleId("nsg-a", "open-ssh")));
    expect(again?.outcome).toBe("compliant");
    const [narrowed] = await hh.handle(writeSignal(ruleId("nsg-a", "open-rdp-list")));
    expect(narrowed?.outcome).toBe("compliant");
    expect(hh.sim.writes()).toHaveLength(2);
  });

  it("dry-run: a `dry-run` record with exactly the planned changes and zero writes", async () => {
    const hh = await fresh({}, "dry-run");
    const [d] = await hh.handle(writeSignal(ruleId("nsg-b", "open-ssh")));
    expect(d?.outcome).toBe("dry-run");
    const [rec] = await hh.records();
    expect(rec?.outcome).toBe("dry-run");
    expect(rec?.changes).toEqual([
      {
        path: "properties.securityRules[open-ssh]",
        from: {
          name: "open-ssh",
          id: ruleId("nsg-b", "open-ssh"),
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          protocol: "Tcp",
          sourceAddressPrefix: "*",
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "22",
        },
        to: null,
      },
    ]);
    expect(hh.sim.writes()).toEqual([]);
    expect(hh.sim.getResource(ruleId("nsg-b", "open-ssh"))).toBeDefined();
  });

  it("opt-out tag on the parent NSG excludes a rule-level signal; no write", async () => {
    const hh = await fresh();
    const [d] = await hh.handle(writeSignal(ruleId("nsg-excluded", "open-ssh")));
    expect(d?.outcome).toBe("excluded");
    expect(hh.sim.writes()).toEqual([]);
  });

  it("failure: a `failed` record with error.step = apply; compliant rules untouched", async () => {
    const hh = await fresh();
    hh.sim.addFault({ method: "DELETE", path: "/securityRules/open-ssh", status: 403, count: -1 });
    const before = simRules(hh.sim, "nsg-b");
    const [d] = await hh.handle(writeSignal(nsgId("nsg-b")));
    expect(d?.outcome).toBe("failed");
    expect(d?.retry).toBe(false);
    const [rec] = await hh.records();
    expect(rec?.outcome).toBe("failed");
    expect(rec?.error).toMatchObject({ step: "apply" });
    expect(rec?.error?.code).toBeTruthy();
    expect(simRules(hh.sim, "nsg-b")).toEqual(before);
    expect(hh.sim.writes()).toEqual([]);
  });
});

describe("close-internet-inbound-rule policy params", () => {
  it("policy validation names each bad port by its path", () => {
    const { file, issues } = validatePolicyText(
      `version: 1
policies:
  - name: nsg-ssh
    resourceTypes: [Microsoft.Network/networkSecurityGroups, Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: close-internet-inbound-rule
    params: { ports: [22, "30-20", true, 70000, "*"], extra: 1 }
`,
      builtinRegistry(),
    );
    expect(file).toBeUndefined();
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath["policies[0].params.ports[1]"]).toMatch(/'30-20' is not a port or a range/);
    expect(byPath["policies[0].params.ports[2]"]).toMatch(/expected a port number or a range/);
    expect(byPath["policies[0].params.ports[3]"]).toMatch(/between 0 and 65535/);
    expect(byPath["policies[0].params.ports[4]"]).toMatch(/leave ports out/);
    expect(byPath["policies[0].params"]).toMatch(/extra/);
    expect(byPath["policies[0].resourceTypes[1]"]).toMatch(/does not support/);
    expect(issues.some((i) => i.path === "policies[0].params.ports[0]")).toBe(false);
  });

  it("a valid policy keeps its ports", () => {
    const { file, issues } = validatePolicyText(
      `version: 1
policies:
  - name: nsg-ssh
    resourceTypes: [Microsoft.Network/networkSecurityGroups/securityRules]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: close-internet-inbound-rule
    params: { ports: [22, "3389", "5985-5986"] }
`,
      builtinRegistry(),
    );
    expect(issues).toEqual([]);
    expect(file?.policies[0]?.params).toEqual({ ports: [22, "3389", "5985-5986"], narrowMixedRules: true });
  });
});
