/** HTTP trigger `health`: readiness (settings valid, policies loaded, Cosmos reachable). Reveals nothing else. */
import type { HttpResponseInit } from "@azure/functions";
import { getRuntime } from "../shared/runtime.js";
import { json } from "./http.js";

export async function handleHealth(): Promise<HttpResponseInit> {
  try {
    const runtime = await getRuntime();
    await runtime.stores.ping();
    return json(200, { status: "ok" }, { "cache-control": "no-store" });
  } catch {
    return json(503, { status: "unavailable" }, { "cache-control": "no-store" });
  }
}
