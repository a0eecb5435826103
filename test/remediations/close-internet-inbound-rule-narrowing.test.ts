/**
 * `close-internet-inbound-rule` narrowing mixed-source rules (`narrowMixedRules`, default on): a
 * rule whose sources mix the Internet with private ranges loses only its Internet prefixes (a PUT
 * of the rule with If-Match) and keeps serving the rest; an Internet-only rule is still deleted.
 * Rule-level and NSG-level, concurrency (412, a changed rule), failures and the pipeline's records.
 */
import { describe, expect, it } from "vitest";
import type { ArmResource, Seed } from "../../dev/azure-sim/index.js";
import type { Policy } from "../../shared/policy/schema.js";
import {
  remediation as closeInternetInboundRule,
  NSG_TYPE,
  RULE_TYPE,
} from "../../shared/remediations/close-internet-inbound-rule/kind.js";
import {
  type NsgRule,
  withoutInternetSources,
} from "../../shared/remediations/close-internet-inbound-rule/rules.js";
import type { ChangePlan } from "../../shared/remediations/types.js";
import { expectChange, kindContext, planOnly, runKind } from "./kind-run.js";
import { useFreshHarness, useKindSimulator, writeSignals } from "./kind-sim.js";

const SUB = "00000000-0000-0000-0000-0000000000c2";
const RG = "rg-net";
const KIND = "close-internet-inbound-rule";
const NOW = new Date("2030-04-02T08:00:00.000Z");
const nsgId = (nsg: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/${nsg}`;
const ruleId = (nsg: string, rule: string) => `${nsgId(nsg)}/securityRules/${rule}`;

const POLICY: Policy = {
  name: "no-internet-inbound",
  resourceTypes: [NSG_TYPE, RULE_TYPE],
  triggers: [{ eventGrid: "Microsoft.Resources.ResourceWriteSuccess" }],
  kind: KIND,
  params: {},
  mode: "enforce",
  scope: [],
  maxActionsPerHour: 20,
};

function rule(name: string, priority: number, sources: Partial<NsgRule>, port = "22") {
  return {
    name,
    properties: {
      priority,
      direction: "Inbound",
      access: "Allow",
      protocol: "Tcp",
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: port,
      ...sources,
    },
  };
}

function nsg(name: string, rules: ReturnType<typeof rule>[], tags: Record<string, string> = {}): ArmResource {
  return {
    id: nsgId(name),
    name,
    type: NSG_TYPE,
    location: "westeurope",
    tags,
    properties: { securityRules: rules },
  };
}

const MIXED_LIST = rule("ssh-mixed", 100, {
  sourceAddressPrefixes: ["10.1.0.0/16", "0.0.0.0/0", "192.168.4.0/24"],
});
const MIXED_BOTH = rule(
  "rdp-mixed",
  110,
  { sourceAddressPrefix: "Internet", sourceAddressPrefixes: ["10.2.0.0/16"] },
  "3389",
);
const INTERNET_ONLY = rule("ssh-open", 120, { sourceAddressPrefixes: ["*", "::/0"] });
const PRIVATE = rule("https-vnet", 130, { sourceAddressPrefix: "VirtualNetwork" }, "443");

function seed(): Seed {
  return {
    resources: [
      nsg("nsg-one", [MIXED_LIST, MIXED_BOTH, PRIVATE]),
      nsg("nsg-all", [MIXED_LIST, INTERNET_ONLY, PRIVATE]),
      nsg("nsg-excluded", [MIXED_LIST], { "driftguard:exclude": "true" }),
    ],
  };
}

const writeSignal = writeSignals({
  prefix: "narrow",
  subscriptionId: SUB,
  now: NOW,
  typeOf: (resourceId) => (resourceId.includes("/securityRules/") ? RULE_TYPE : NSG_TYPE),
});

describe("withoutInternetSources (pure)", () => {
  const r = (sources: Partial<NsgRule>): NsgRule => ({
    name: "r",
    access: "Allow",
    direction: "Inbound",
    ...sources,
  });

  it("takes out only the Internet prefixes, each remaining one where it was", () => {
    expect(withoutInternetSources(r({ sourceAddressPrefixes: ["10.1.0.0/16", "0.0.0.0/0"] }))).toEqual({
      name: "r",
      access: "Allow",
      direction: "Inbound",
      sourceAddressPrefixes: ["10.1.0.0/16"],
    });
    expect(
      withoutInternetSources(r({ sourceAddressPrefix: "0.0.0.0/0", sourceAddressPrefixes: ["10.1.0.0/16"] })),
    ).toMatchObject({ sourceAddressPrefixes: ["10.1.0.0/16"] });
    expect(
      withoutInternetSources(r({ sourceAddressPrefix: "0.0.0.0/0", sourceAddressPrefixes: ["10.1.0.0/16"] })),
    ).not.toHaveProperty("sourceAddressPrefix");
    expect(
      withoutInternetSources(r({ sourceAddressPrefix: "10.3.0.0/16", sourceAddressPrefixes: ["Any"] })),
    ).toMatchObject({
      sourceAddressPrefix: "10.3.0.0/16",
      sourceAddressPrefixes: [],
    });
    expect(
      withoutInternetSources(r({ sourceAddressPrefixes: ["VirtualNetwork", "Internet", "::/0"] })),
    ).toMatchObject({
      sourceAddressPrefixes: ["VirtualNetwork"],
    });
  });

  it("is undefined when only the Internet would remain, or nothing would", () => {
    expect(withoutInternetSources(r({ sourceAddressPrefix: "*" }))).toBeUndefined();
    expect(withoutInternetSources(r({ sourceAddressPrefixes: ["*", "::/0", "Internet"] }))).toBeUndefined();
    // The remaining prefixes still cover every IPv4 address together.
    expect(
      withoutInternetSources(r({ sourceAddressPrefixes: ["0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/0"] })),
    ).toBeUndefined();
    // No prefix is the Internet on its own: nothing to take out.
    expect(
      withoutInternetSources(r({ sourceAddressPrefixes: ["0.0.0.0/1", "128.0.0.0/1"] })),
    ).toBeUndefined();
    expect(withoutInternetSources(r({ sourceAddressPrefix: "10.0.0.0/8" }))).toBeUndefined();
  });
});

describe("narrowing against the simulator", () => {
  const env = useKindSimulator(seed, { resetEachTest: true });
  const { since, writes } = env;
  const ctxFor = (resourceId: string, params: Record<string, unknown> = {}) =>
    kindContext(closeInternetInboundRule, writeSignal(resourceId), {
      policy: POLICY,
      params,
      clients: env.clients,
      now: NOW,
    });
  const ruleProps = (n: string, r: string) =>
    env.sim.getResource(ruleId(n, r))?.properties as Record<string, unknown> | undefined;

  it("rule-level: one PUT of the rule with If-Match; the private prefixes stay, the record keeps the rule as it was", async () => {
    const { current, plan, changes, verified } = await runKind(
      closeInternetInboundRule,
      ctxFor(ruleId("nsg-one", "ssh-mixed")),
    );
    expect(plan.action).toBe("change");
    expect(changes).toEqual([
      {
        path: "properties.securityRules[ssh-mixed]",
        from: expect.objectContaining({
          sourceAddressPrefixes: ["10.1.0.0/16", "0.0.0.0/0", "192.168.4.0/24"],
        }),
        to: expect.objectContaining({ sourceAddressPrefixes: ["10.1.0.0/16", "192.168.4.0/24"] }),
      },
    ]);
    expect((plan as ChangePlan).summary).toMatch(
      /^Narrow mixed-source rule 'ssh-mixed'.*only the Internet sources go/,
    );
    expect(verified).toEqual({ ok: true });
    const w = writes();
    expect(w.map((x) => `${x.method} ${x.path}`)).toEqual([`PUT ${ruleId("nsg-one", "ssh-mixed")}`]);
    expect(w[0]!.headers["if-match"]).toBe(current.state.candidates[0]!.etag);
    expect(w[0]!.headers["if-match"]).toBeTruthy();
    expect(ruleProps("nsg-one", "ssh-mixed")).toMatchObject({
      sourceAddressPrefixes: ["10.1.0.0/16", "192.168.4.0/24"],
      destinationPortRange: "22",
      access: "Allow",
      priority: 100,
    });
    // The siblings are untouched; a second run finds nothing to do.
    expect(ruleProps("nsg-one", "https-vnet")).toMatchObject({ sourceAddressPrefix: "VirtualNetwork" });
    const again = await runKind(closeInternetInboundRule, ctxFor(ruleId("nsg-one", "ssh-mixed")));
    expect(again.plan.action).toBe("noop");
  });

  it("the sourceAddressPrefix + sourceAddressPrefixes form: the Internet single prefix goes, the list stays", async () => {
    const { verified } = await runKind(closeInternetInboundRule, ctxFor(ruleId("nsg-one", "rdp-mixed")));
    expect(verified).toEqual({ ok: true });
    const props = ruleProps("nsg-one", "rdp-mixed")!;
    expect(props.sourceAddressPrefix).toBeUndefined();
    expect(props.sourceAddressPrefixes).toEqual(["10.2.0.0/16"]);
  });

  it("NSG-level: the mixed rule is narrowed, the Internet-only rule deleted, the private rule untouched", async () => {
    const { changes, verified } = await runKind(closeInternetInboundRule, ctxFor(nsgId("nsg-all")));
    expect(verified).toEqual({ ok: true });
    expect(changes!.map((c) => [c.path, c.to === null ? "deleted" : "narrowed"])).toEqual([
      ["properties.securityRules[ssh-mixed]", "narrowed"],
      ["properties.securityRules[ssh-open]", "deleted"],
    ]);
    // Narrowings first, then deletions (each rule written on its own).
    expect(writes().map((x) => `${x.method} ${x.path.split("/").pop()}`)).toEqual([
      "PUT ssh-mixed",
      "DELETE ssh-open",
    ]);
    expect(ruleProps("nsg-all", "ssh-open")).toBeUndefined();
    expect(ruleProps("nsg-all", "ssh-mixed")).toMatchObject({
      sourceAddressPrefixes: ["10.1.0.0/16", "192.168.4.0/24"],
    });
    expect(ruleProps("nsg-all", "https-vnet")).toMatchObject({ sourceAddressPrefix: "VirtualNetwork" });
  });

  it("narrowMixedRules: false deletes a mixed rule as before", async () => {
    const { changes } = await runKind(
      closeInternetInboundRule,
      ctxFor(ruleId("nsg-one", "ssh-mixed"), { narrowMixedRules: false }),
    );
    expect(changes).toEqual([
      { path: "properties.securityRules[ssh-mixed]", from: expect.any(Object), to: null },
    ]);
    expect(writes().map((x) => x.method)).toEqual(["DELETE"]);
    expect(ruleProps("nsg-one", "ssh-mixed")).toBeUndefined();
  });

  it("412: the rule's ETag moved after the plan (same definition) → re-read, PUT again with the new ETag", async () => {
    const { ctx, plan } = await planOnly(closeInternetInboundRule, ctxFor(ruleId("nsg-one", "ssh-mixed")));
    expectChange(plan);
    const planned = plan.data.narrowings![0]!.etag;
    // Another writer re-applies the same rule: a new ETag, the same definition.
    env.sim.putResource({ ...env.sim.getResource(ruleId("nsg-one", "ssh-mixed"))!, etag: undefined });
    env.mark();
    await closeInternetInboundRule.apply(plan, ctx);
    const puts = since().filter((r) => r.method === "PUT" && !r.faulted);
    expect(puts.map((p) => p.status)).toEqual([412, 200]);
    expect(puts[0]!.headers["if-match"]).toBe(planned);
    expect(puts[1]!.headers["if-match"]).not.toBe(planned);
    expect(await closeInternetInboundRule.verify(plan, ctx)).toEqual({ ok: true });
  });

  it("a rule whose definition changed after the plan is not written (RuleChanged, retryable)", async () => {
    const { ctx, plan } = await planOnly(closeInternetInboundRule, ctxFor(nsgId("nsg-all")));
    expectChange(plan);
    const current = env.sim.getResource(ruleId("nsg-all", "ssh-mixed"))!;
    env.sim.putResource({
      ...current,
      properties: {
        ...current.properties,
        sourceAddressPrefixes: ["10.1.0.0/16", "0.0.0.0/0", "172.16.0.0/12"],
      },
    });
    env.mark();
    await expect(closeInternetInboundRule.apply(plan, ctx)).rejects.toMatchObject({
      code: "RuleChanged",
      step: "apply",
      retryable: true,
    });
    expect(writes()).toEqual([]);
    expect(ruleProps("nsg-all", "ssh-open")).toBeDefined();
  });

  it("412 twice → PreconditionFailed, retryable, at step apply", async () => {
    env.sim.addFault({ method: "PUT", path: "/securityRules/ssh-mixed", status: 412, count: 2 });
    await expect(
      runKind(closeInternetInboundRule, ctxFor(ruleId("nsg-one", "ssh-mixed"))),
    ).rejects.toMatchObject({
      code: "PreconditionFailed",
      step: "apply",
      retryable: true,
    });
    expect(ruleProps("nsg-one", "ssh-mixed")).toMatchObject({
      sourceAddressPrefixes: ["10.1.0.0/16", "0.0.0.0/0", "192.168.4.0/24"],
    });
  });

  it("transient 429 (Retry-After) and 500 on the PUT are retried; a 403 fails at apply, not retryable", async () => {
    env.sim.addFault({ method: "PUT", path: "/securityRules/ssh-mixed", status: 429, retryAfter: 0 });
    env.sim.addFault({ method: "PUT", path: "/securityRules/ssh-mixed", status: 500 });
    const { verified } = await runKind(closeInternetInboundRule, ctxFor(ruleId("nsg-one", "ssh-mixed")));
    expect(verified).toEqual({ ok: true });
    expect(
      since()
        .filter((r) => r.method === "PUT")
        .map((r) => r.status),
    ).toEqual([429, 500, 200]);

    env.sim.addFault({ method: "PUT", path: "/securityRules/rdp-mixed", status: 403, count: -1 });
    await expect(
      runKind(closeInternetInboundRule, ctxFor(ruleId("nsg-one", "rdp-mixed"))),
    ).rejects.toMatchObject({
      step: "apply",
      retryable: false,
      statusCode: 403,
    });
    expect(ruleProps("nsg-one", "rdp-mixed")).toMatchObject({ sourceAddressPrefix: "Internet" });
  });
});

describe("narrowing through the pipeline", () => {
  const fresh = useFreshHarness(seed, POLICY, NOW);

  it("enforce: `remediated`, the record holds the rule as it was and as narrowed", async () => {
    const hh = await fresh();
    const [d] = await hh.handle(writeSignal(ruleId("nsg-one", "ssh-mixed")));
    expect(d?.outcome).toBe("remediated");
    expect(d?.record?.changes).toEqual([
      {
        path: "properties.securityRules[ssh-mixed]",
        from: {
          name: "ssh-mixed",
          id: ruleId("nsg-one", "ssh-mixed"),
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          protocol: "Tcp",
          sourceAddressPrefixes: ["10.1.0.0/16", "0.0.0.0/0", "192.168.4.0/24"],
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "22",
        },
        to: {
          name: "ssh-mixed",
          id: ruleId("nsg-one", "ssh-mixed"),
          priority: 100,
          direction: "Inbound",
          access: "Allow",
          protocol: "Tcp",
          sourceAddressPrefixes: ["10.1.0.0/16", "192.168.4.0/24"],
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "22",
        },
      },
    ]);
  });

  it("dry-run and approval write nothing; the NSG's opt-out tag excludes its rules", async () => {
    const dry = await fresh({}, "dry-run");
    expect((await dry.handle(writeSignal(nsgId("nsg-all"))))[0]?.outcome).toBe("dry-run");
    expect(dry.sim.writes()).toEqual([]);
    const approval = await fresh({ mode: "approval" });
    expect((await approval.handle(writeSignal(nsgId("nsg-all"))))[0]?.outcome).toBe("pending-approval");
    expect(approval.sim.writes()).toEqual([]);
    const hh = await fresh();
    expect((await hh.handle(writeSignal(ruleId("nsg-excluded", "ssh-mixed"))))[0]?.outcome).toBe("excluded");
    expect(hh.sim.writes()).toEqual([]);
  });
});
