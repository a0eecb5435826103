/**
 * The figure tables of docs/reliability.md and docs/performance.md, rendered from the files
 * `npm run figures` writes (docs/figures/reliability.json, docs/figures/bench.json). Each table sits
 * between `<!-- figures:<name>:start -->` and `<!-- figures:<name>:end -->`; everything else on the
 * page is prose, which quotes no figure of its own (test/docs.test.ts checks both).
 */

/** Where and on what a run was taken. */
export interface RunMeta {
  commit: string;
  date: string;
  machine: { cpus: number; cpuModel: string; node: string };
  durationS: number;
}

export interface ReliabilityFigures extends RunMeta {
  scenarios: Record<string, { result: "passed" | "failed" | "not run"; figures?: Record<string, unknown> }>;
}

export interface BenchMetric {
  metric: string;
  value: number | null;
  unit: string;
  target?: string;
  met?: boolean;
  [extra: string]: unknown;
}

export interface BenchFigures extends RunMeta {
  loadAverage: { start: number[]; end: number[] };
  /** Set when the bench stopped early: the metrics it did not reach are missing. */
  error?: string;
  metrics: BenchMetric[];
  notes: {
    documentSizes?: { recordBytes: number; headBytes: number };
    profiles?: Record<
      string,
      { totalMs: number; functions: { function: string; where: string; selfPct: number }[] }
    >;
  };
}

// ─── Formatting ───────────────────────────────────────────────────────────────────────────────────

/** A figure as the tables print it: thousands separated, 3 significant digits below 100. */
export function fmt(n: unknown): string {
  if (typeof n !== "number" || !Number.isFinite(n)) return "—";
  const abs = Math.abs(n);
  const digits = abs >= 100 || Number.isInteger(n) ? 0 : abs >= 10 ? 1 : 2;
  const [int, frac] = n.toFixed(digits).split(".");
  const grouped = int!.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return frac ? `${grouped}.${frac}` : grouped;
}

const bold = (n: unknown) => `**${fmt(n)}**`;
const num = (f: Record<string, unknown>, k: string) => f[k] as number;
const get = (o: unknown, ...path: string[]) =>
  path.reduce<unknown>(
    (v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
    o,
  );

function runLine(meta: RunMeta, extra = ""): string {
  return (
    `Taken at commit \`${meta.commit}\` on ${meta.date.slice(0, 10)}: Node ${meta.machine.node}, ` +
    `${meta.machine.cpus} cores (${meta.machine.cpuModel})${extra}; the run took ${fmt(meta.durationS)} s.`
  );
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(head), `|${head.map(() => "---").join("|")}|`, ...rows.map(line)].join("\n");
}

/** Replaces the block `name` of `markdown`; a page without the block's markers is an error. */
export function replaceBlock(markdown: string, page: string, name: string, content: string): string {
  const start = `<!-- figures:${name}:start -->`;
  const end = `<!-- figures:${name}:end -->`;
  const i = markdown.indexOf(start);
  const j = markdown.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${page} has no block ${start} … ${end}`);
  return `${markdown.slice(0, i + start.length)}\n${content}\n${markdown.slice(j)}`;
}

/** The text of `markdown` outside its generated blocks (and outside code fences). */
export function proseOf(markdown: string): string {
  return markdown
    .replace(/<!-- (figures|kind):([\w-]+):start -->[\s\S]*?<!-- \1:\2:end -->/g, "")
    .replace(/```[\s\S]*?```/g, "");
}

// ─── Reliability ──────────────────────────────────────────────────────────────────────────────────

interface Scenario {
  name: string;
  title: string;
  /** The test file and the test's title (for the vitest result and the rerun command). */
  file: string;
  test: string;
  cells: (
    f: Record<string, unknown>,
  ) => [load: string, fault: string, lost: string, doubled: string, observed: string];
}

const outcomes = (f: Record<string, unknown>) => ((f.records as string[] | undefined) ?? []).join(", ");

/** Every scenario that writes figures, in the order of the table. */
export const RELIABILITY_SCENARIOS: readonly Scenario[] = [
  {
    name: "cosmos-frozen",
    title: "Cosmos frozen during in-flight ARM writes",
    file: "test/reliability/faults.test.ts",
    test: "Cosmos frozen",
    cells: (f) => [
      `${fmt(f.causes)} causes, ${fmt(f.hosts)} host processes, ${fmt(f.writesInFlightAtFreeze)} writes in flight at the freeze`,
      `Cosmos process SIGSTOPped for ${fmt(f.frozenSeconds)} s, ${fmt(f.writesLandedDuringFreeze)} writes landing meanwhile; ${fmt(f.firstDeliveriesFailed)} first deliveries answered non-2xx; redelivered until accepted (${fmt(f.deliveryAttemptsAfterFault)} deliveries)`,
      bold(f.recordsLost),
      bold(f.doubleWrites),
      `${fmt(f.armWrites)} writes, ${fmt(f.remediatedRecords)} \`remediated\` (${fmt(f.settledFromIntent)} settled from their intent), ${fmt(f.doubleRecords)} resources with a second record`,
    ],
  },
  {
    name: "hosts-killed",
    title: "Hosts killed mid-remediation",
    file: "test/reliability/faults.test.ts",
    test: "SIGKILL",
    cells: (f) => [
      `${fmt(f.causes)} causes, ${fmt(f.hostsKilled)} host processes`,
      `both hosts SIGKILLed; at the kill (the simulator's log and the store) ${fmt(f.killedBeforeWriteLanded)} writes had not landed, ${fmt(f.killedAfterWriteLanded)} had landed without their record, ${fmt(f.recordedBeforeKill)} were recorded; hosts restarted; redelivered`,
      bold(f.recordsLost),
      bold(f.doubleWrites),
      `${fmt(f.armWrites)} writes (${fmt(f.writesAfterKill)} after the kill), ${fmt(f.remediatedRecords)} \`remediated\`: ${fmt(f.completedFromIntent)} completed from their intent without a second write, ${fmt(f.resumedFromIntent)} resumed`,
    ],
  },
  {
    name: "concurrent-causes",
    title: "Concurrent causes per resource",
    file: "test/reliability/concurrency.test.ts",
    test: "100 resources",
    cells: (f) => [
      `${fmt(f.resources)} resources (${fmt(f.workspaces)} ML workspaces with asynchronous ARM operations, ${fmt(f.storageAccounts)} storage accounts), ${fmt(f.deliveries)} deliveries at once, shuffled`,
      "2–3 distinct causes per resource",
      `${bold(f.causesWithoutRecord)} causes without their record`,
      bold(f.doubleWrites),
      `${fmt(f.armWrites)} writes; ${fmt(f.records)} records for ${fmt(f.causes)} causes: ${fmt(f.remediatedRecords)} \`remediated\`, ${fmt(f.compliantRecords)} \`compliant\`, ${fmt(f.causesWithSeveralRecords)} causes with more than one`,
    ],
  },
  {
    name: "near-expiry-at-once",
    title: "Simultaneous near-expiry events",
    file: "test/reliability/concurrency.test.ts",
    test: "6 simultaneous",
    cells: (f) => [
      `${fmt(f.events)} \`SecretNearExpiry\` events for one secret at once`,
      "—",
      `${fmt(num(f, "events") - num(f, "records"))} events without their record`,
      bold(num(f, "keyRegenerations") - 1),
      `${fmt(f.newVersions)} new version, ${fmt(f.keyRegenerations)} key regeneration, ${fmt(f.remediatedRecords)} \`remediated\`, ${fmt(f.compliantRecords)} \`compliant\``,
    ],
  },
  {
    name: "approval-during-503",
    title: "Approval during a 503 window",
    file: "test/integration/approvals-page.test.ts",
    test: "approved means done",
    cells: (f) => [
      "one approved change",
      `every PATCH answers 503 until cleared (${fmt(f.writesRefusedWith503)} refused)`,
      "—",
      bold(num(f, "armWrites") - 1),
      `applied ${fmt(f.armWrites)} time after ${fmt(f.clicks)} click; records ${outcomes(f)}; a second click answered ${fmt(f.secondClickStatus)}`,
    ],
  },
  {
    name: "rotation-resume",
    title: "Rotation interrupted after the key was regenerated",
    file: "test/reliability/rotation-resume.test.ts",
    test: "a vault write that fails",
    cells: (f) => [
      "one two-credential rotation",
      `the vault refuses the new version (503, ${fmt(f.vaultWritesRefused)} times) after the provider key was regenerated; redelivered`,
      "—",
      bold(num(f, "keyRegenerations") - 1),
      `${fmt(f.keyRegenerations)} key regeneration; the redelivery stores ${f.storedValueIsTheRegeneratedKey ? "that same key" : "**another** key"}; records ${outcomes(f)}`,
    ],
  },
  {
    name: "open-breaker",
    title: "Open breaker",
    file: "test/reliability/breaker-and-keys.test.ts",
    test: "2,000 deliveries",
    cells: (f) => [
      `${fmt(f.deliveries)} deliveries (${fmt(f.causes)} causes × 10, shuffled, ${fmt(f.concurrency)} at a time)`,
      "every ARM read answers 500",
      `${bold(f.causesWithoutRecord)} causes without their record`,
      `${bold(f.armWrites)} writes`,
      `${fmt(f.records)} records for ${fmt(f.causes)} causes (${fmt(f.failedRecords)} \`failed\` before the breaker opened, ${fmt(f.deferredRecords)} \`deferred\`), at most ${fmt(f.maxRecordsPerCause)} per cause`,
    ],
  },
  severalKinds(
    "kinds-two-hosts",
    "Two kinds per resource, two hosts",
    "test/reliability/kinds-two-hosts.test.ts",
    "12 accounts",
    "storage accounts",
  ),
  severalKinds(
    "storage-kinds-two-hosts",
    "Five storage kinds per account, two hosts",
    "test/reliability/storage-kinds-two-hosts.test.ts",
    "8 accounts",
    "storage accounts, drifted on every storage kind",
  ),
  {
    name: "sweep-two-timers",
    title: "Two sweep timers at once",
    file: "test/sweep/timer-hosts.test.ts",
    test: "run one sweep",
    cells: (f) => [
      `${fmt(f.driftedResources)} drifted resources, ${fmt(f.hosts)} host processes`,
      `the \`sweep\` timer fired on both hosts at the same moment (${fmt(f.timersFired)} runs)`,
      `${bold(f.driftedWithoutRecord)} drifted resources without their record`,
      `${bold(f.pathsWrittenTwice)} resources written twice`,
      `${fmt(f.postureRuns)} posture run, ${fmt(f.armWrites)} writes, ${fmt(f.records)} \`sweep\` records`,
    ],
  },
  {
    name: "decision-events",
    title: "Decision events across a host kill and a topic outage",
    file: "test/reliability/decision-events.test.ts",
    test: "publishes every record exactly once",
    cells: (f) => [
      `${fmt(f.records)} decisions on ${fmt(f.resources)} resources, published to the local Event Grid topic`,
      `the topic answers 503 for ${fmt(f.outageSeconds)} s (a two-minute outage, compressed); the topic frozen mid-send and the host SIGKILLed between commit and publish`,
      `${bold(f.recordsNeverPublished)} records never published`,
      `${bold(f.eventsUnderFreshId)} events under a fresh ID`,
      `${fmt(f.eventsReceived)} events received (${fmt(f.repeatsOfSameEvent)} repeats of the same event), ${fmt(f.eventsDifferingFromRecord)} differing from their record, ${fmt(f.resourcesOutOfOrder)} resources out of chain order`,
    ],
  },
];

/** The row of a several-kinds-per-resource scenario over two hosts. */
function severalKinds(name: string, title: string, file: string, test: string, what: string): Scenario {
  return {
    name,
    title,
    file,
    test,
    cells: (f) => [
      `${fmt(f.resources)} ${what} (${fmt(f.kinds)} kinds each), ${fmt(f.causes)} causes each delivered twice over ${fmt(f.hosts)} hosts at once, shuffled`,
      `concurrent causes and redeliveries on both gates (${fmt(f.redeliveries)} deliveries answered \`busy\` and redelivered)`,
      `${bold(f.causeKindsWithoutRecord)} causes without their record of a kind`,
      `${bold(f.doubleWrites)} writes beyond one per kind`,
      `${fmt(f.armWrites)} writes; ${fmt(f.records)} records: ${fmt(f.remediatedRecords)} \`remediated\`, ${fmt(f.compliantRecords)} \`compliant\`, ${fmt(f.causeKindsWithSeveralRecords)} causes with a second record of a kind`,
    ],
  };
}

export function rerunCommand(s: Pick<Scenario, "file" | "test">): string {
  return `\`npx vitest run ${s.file} -t "${s.test}"\``;
}

export function renderReliabilityTable(figures: ReliabilityFigures): string {
  const rows = RELIABILITY_SCENARIOS.map((s) => {
    const run = figures.scenarios[s.name];
    const result =
      !run || run.result === "not run" ? "not run" : run.result === "passed" ? "passed" : "**failed**";
    if (!run?.figures)
      return [
        s.title,
        "—",
        "—",
        "—",
        "—",
        "no figures (the scenario did not reach them)",
        result,
        rerunCommand(s),
      ];
    return [s.title, ...s.cells(run.figures), result, rerunCommand(s)];
  });
  return [
    runLine(
      figures,
      ", the stand-ins (Cosmos DB stand-in, HTTPS Azure simulator) in their own processes where named",
    ),
    "",
    table(
      [
        "scenario",
        "load held",
        "fault injected",
        "records lost",
        "double writes",
        "observed",
        "test",
        "rerun",
      ],
      rows,
    ),
  ].join("\n");
}

export function renderReliabilityDoc(markdown: string, figures: ReliabilityFigures): string {
  return replaceBlock(markdown, "docs/reliability.md", "reliability", renderReliabilityTable(figures));
}

// ─── Performance ──────────────────────────────────────────────────────────────────────────────────

type Row = (m: BenchMetric) => { measured: string; notes: string };

const unitText: Record<string, string> = { us: "µs", ratio: "", writes: "", requests: "", bytes: "bytes" };
const withUnit = (m: BenchMetric) =>
  `${bold(m.value)}${unitText[m.unit] === undefined ? ` ${m.unit}` : unitText[m.unit] ? ` ${unitText[m.unit]}` : ""}`;

const METRIC_ROWS: Record<string, Row> = {
  bundle_zip_bytes: (m) => ({
    measured: withUnit(m),
    notes: `${fmt(m.files)} files, ${fmt(m.unzipped_bytes)} bytes unzipped`,
  }),
  cold_start_ms: (m) => ({
    measured: withUnit(m),
    notes: `median of ${fmt(m.samples)} fresh processes; ${fmt(m.from_process_start_ms)} ms counting Node's own start`,
  }),
  cold_rss_mb: (m) => ({ measured: withUnit(m), notes: `median of ${fmt(m.samples)} fresh processes` }),
  first_decision_ms: (m) => ({
    measured: withUnit(m),
    notes: `median of ${fmt(m.samples)} fresh processes whose decision wrote its fix (${fmt(m.without_fix)} did not); the invocation alone ${fmt(m.invocation_ms)} ms`,
  }),
  pipeline_us_per_event: (m) => ({
    measured: `p50 ${bold(m.p50)} µs, p99 ${bold(m.p99)} µs`,
    notes: `${fmt(m.samples)} events, in one process`,
  }),
  cosmos_requests_per_remediation: (m) => ({
    measured: `${bold(m.value)} first time, ${bold(m.resource_with_history)} with history`,
    notes: `${fmt(m.samples)} remediations, counted at the stand-in`,
  }),
  cosmos_requests_per_compliant: (m) => ({
    measured: withUnit(m),
    notes: `${fmt(m.samples)} compliant decisions, counted at the stand-in`,
  }),
  arm_writes_per_fix: (m) => ({
    measured: `mean ${bold(m.mean)}, at most ${bold(m.max_per_resource)} per resource`,
    notes: `${fmt(m.samples)} fixes from the simulator's log; ${fmt(m.resources_not_written)} resources not written`,
  }),
  arm_writes_per_compliant: (m) => ({
    measured: withUnit(m),
    notes: `${fmt(m.samples)} compliant decisions`,
  }),
  e2e_p50_ms: (m) => ({
    measured: withUnit(m),
    notes: `${fmt(m.samples)} accepted of ${fmt(m.deliveries)} deliveries at ${fmt(m.rate_per_s)}/s to one host; p90 ${fmt(m.p90)} ms`,
  }),
  e2e_p99_ms: (m) => ({
    measured: withUnit(m),
    notes: `accepted deliveries only; ${bold(m.failed)} failed (counted apart); max ${fmt(m.max)} ms`,
  }),
  throughput_vs_store_ceiling: (m) => ({
    measured: withUnit(m),
    notes: `one host ${fmt(m.remediations_per_s)} remediations/s at 64 in flight; the stand-in's own ceiling, measured apart, ${fmt(m.store_requests_per_s)} requests/s = ${fmt(m.store_ceiling_remediations_per_s)} remediations/s`,
  }),
  scaleout_speedup_3_hosts: (m) => ({
    measured: withUnit(m),
    notes: `1 host ${fmt(get(m, "one_host", "remediations_per_s"))}/s, 3 hosts ${fmt(get(m, "three_hosts", "remediations_per_s"))}/s, measured on ${fmt(m.machine_cores)} cores shared by every process of the stack`,
  }),
  scaleout_double_writes: (m) => ({
    measured: withUnit(m),
    notes: `${fmt(m.events)} events (${fmt(m.duplicates)} duplicates) on 3 hosts: ${fmt(m.arm_writes_beyond_one_per_resource)} writes and ${fmt(m.records_beyond_one_per_cause)} records too many, ${fmt(m.resources_left_unfixed)} resources unfixed, ${fmt(m.causes_without_record)} causes without a record, ${fmt(m.chain_breaks)} breaks in ${fmt(m.chains_checked)} chains`,
  }),
  audit_query_p95_ms: (m) => ({
    measured: `${bold(m.value)} ms at ${fmt(m.records_in_store)} records; ${bold(get(m, "small_store", "p95"))} ms at ${fmt(get(m, "small_store", "records_in_store"))}`,
    notes: `the stand-in's CPU per query ${fmt(get(m, "cpu_ms_per_query", "cosmos_stand_in"))} ms, the host's ${fmt(get(m, "cpu_ms_per_query", "host"))} ms`,
  }),
};

export const BENCH_METRICS = Object.keys(METRIC_ROWS);

function met(m: BenchMetric): string {
  if (m.target === "report" || m.met === undefined) return "report";
  return m.met ? "yes" : "**no**";
}

export function renderBenchTable(figures: BenchFigures): string {
  const rows = BENCH_METRICS.map((name) => {
    const m = figures.metrics.find((x) => x.metric === name);
    if (!m)
      return [
        `\`${name}\``,
        "—",
        "not measured",
        "**no**",
        figures.error ? "the bench stopped before it" : "not in the run",
      ];
    const { measured, notes } = METRIC_ROWS[name]!(m);
    return [`\`${name}\``, m.target ?? "—", measured, met(m), notes];
  });
  const [start, end] = [figures.loadAverage.start[0], figures.loadAverage.end[0]];
  const load =
    start === undefined || end === undefined
      ? "; load average not recorded"
      : `; load average ${fmt(start)} at the start and ${fmt(end)} at the end`;
  return [
    runLine(figures, load),
    ...(figures.error ? ["", `The bench stopped early: ${figures.error}`] : []),
    "",
    table(["metric", "target", "measured", "met", "notes"], rows),
  ].join("\n");
}

/** CPU per remediation of each process, from the steady-latency and scale-out runs. */
export function renderCpuTable(figures: BenchFigures): string {
  const e2e = figures.metrics.find((m) => m.metric === "e2e_p99_ms");
  const scale = figures.metrics.find((m) => m.metric === "scaleout_speedup_3_hosts");
  const runs: [string, unknown][] = [
    ["steady arrivals, one host (per decision)", e2e?.cpu_ms_per_decision],
    ["burst on one host", get(scale, "one_host", "cpu_ms_per_remediation")],
    ["burst on three hosts", get(scale, "three_hosts", "cpu_ms_per_remediation")],
  ];
  const procs = ["host-0", "host-1", "host-2", "cosmos", "sim", "bench"];
  return table(
    ["run", ...procs.map((p) => `${p} (ms)`)],
    runs.map(([name, cpu]) => [name, ...procs.map((p) => fmt(get(cpu, p)))]),
  );
}

/** The top self-time entries of each profile the bench took (it profiles only a missed target). */
export function renderProfiles(figures: BenchFigures): string {
  const profiles = Object.entries(figures.notes.profiles ?? {});
  if (profiles.length === 0) return "No target was missed in this run, so no profile was taken.";
  return profiles
    .map(([name, p]) =>
      [
        `${name} (${fmt(p.totalMs)} ms of CPU sampled):`,
        "",
        table(
          ["self time", "function", "where"],
          p.functions.slice(0, 8).map((f) => [`${fmt(f.selfPct)} %`, f.function, `\`${f.where}\``]),
        ),
      ].join("\n"),
    )
    .join("\n\n");
}

/**
 * Published Cosmos DB write charges by document size (default indexing; 1 KB point read = 1 RU),
 * applied to the document sizes the bench measured. An upper bound: the next size class up.
 */
const WRITE_RU = [
  [1024, 4.95],
  [2048, 6.29],
  [4096, 6.67],
] as const;
const writeRu = (bytes: number) => (WRITE_RU.find(([max]) => bytes <= max) ?? WRITE_RU[2])[1];
/** The intent rides on the head document: at most the 4 KB class (the planned changes, the signal). */
const INTENT_RU = 6.67;
const COUNTER_RU = 4.95;
const USD_PER_MILLION_RU = 0.25;
const USD_PER_GB_MONTH = 0.25;

export function renderRequestUnits(figures: BenchFigures): string {
  const sizes = figures.notes.documentSizes;
  if (!sizes) return "The bench did not reach the document sizes in this run.";
  const head = writeRu(sizes.headBytes);
  const record = writeRu(sizes.recordBytes);
  const remediation = head + COUNTER_RU + INTENT_RU + record + head;
  const compliant = head + record + head;
  const perDay = 100_000 * remediation + 900_000 * compliant;
  const storageGb = (sizes.recordBytes * 1_000_000 * 400) / 1e9;
  return [
    `Documents measured by the bench: an audit record ${fmt(sizes.recordBytes)} bytes, a chain head ${fmt(sizes.headBytes)} bytes.`,
    "",
    table(
      ["request", "document", "RU (published charge of its size class)"],
      [
        ["enter: patch the head's lease", `head, ${fmt(sizes.headBytes)} bytes`, fmt(head)],
        ["action limit: conditional patch of the hourly counter", "counter, under 1 KB", fmt(COUNTER_RU)],
        ["intent: replace the head with the intent on it", "head + intent, at most 4 KB", fmt(INTENT_RU)],
        [
          "commit: batch of record create + head replace",
          `${fmt(sizes.recordBytes)} + ${fmt(sizes.headBytes)} bytes`,
          `${fmt(record)} + ${fmt(head)}`,
        ],
        ["**remediation**", "", `**${fmt(remediation)}**`],
        ["**compliant** (enter + commit)", "", `**${fmt(compliant)}**`],
      ],
    ),
    "",
    `At 1 M decisions a day, 10 % of them remediations: ${fmt(perDay / 1e6)} M RU a day, ${fmt((perDay * 30) / 1e6)} M RU a month → about $${fmt((perDay * 30 * USD_PER_MILLION_RU) / 1e6)} a month at $${USD_PER_MILLION_RU} per million RU. One record per decision kept for the default 400 days levels off at about ${fmt(storageGb)} GB → about $${fmt(storageGb * USD_PER_GB_MONTH)} a month at $${USD_PER_GB_MONTH} per GB-month. A serverless container's 5,000 RU/s allow about ${fmt(5000 / remediation)} remediations or ${fmt(5000 / compliant)} compliant decisions per second.`,
  ].join("\n");
}

export function renderPerformanceDoc(markdown: string, figures: BenchFigures): string {
  const page = "docs/performance.md";
  let out = replaceBlock(markdown, page, "bench", renderBenchTable(figures));
  out = replaceBlock(out, page, "bench-cpu", renderCpuTable(figures));
  out = replaceBlock(out, page, "bench-profiles", renderProfiles(figures));
  out = replaceBlock(out, page, "bench-request-units", renderRequestUnits(figures));
  return out;
}
