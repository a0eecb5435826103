/**
 * Shows an Adaptive Card the bot posted, for people at a terminal or a browser: as text (TextBlocks,
 * facts, containers, buttons) and as an HTML page that renders the card with Microsoft's
 * `adaptivecards` renderer (the same library the schema check and the README picture use).
 */
import { createRequire } from "node:module";
import path from "node:path";

type Element = Record<string, unknown>;

const STYLE_MARK: Record<string, string> = {
  good: "✔",
  attention: "✖",
  warning: "!",
  emphasis: "…",
};

function lines(elements: unknown, indent: string): string[] {
  if (!Array.isArray(elements)) return [];
  return elements.flatMap((raw) => {
    const e = raw as Element;
    switch (e.type) {
      case "TextBlock": {
        const text = String(e.text ?? "");
        return [`${indent}${e.weight === "Bolder" ? text.toUpperCase() : text}`];
      }
      case "FactSet":
        return ((e.facts as { title: string; value: string }[]) ?? []).map(
          (f) => `${indent}${f.title.padEnd(13)} ${f.value}`,
        );
      case "Container": {
        const mark = typeof e.style === "string" ? STYLE_MARK[e.style] : undefined;
        return lines(e.items, mark ? `${indent}${mark} ` : `${indent}  `);
      }
      default:
        return [`${indent}(${String(e.type)})`];
    }
  });
}

/** The card as plain text, framed, with its buttons and refresh on the last lines. */
export function cardText(card: Record<string, unknown>): string {
  const out = lines(card.body, "");
  const actions = (card.actions as Element[] | undefined) ?? [];
  if (actions.length > 0) out.push("", actions.map((a) => `[ ${String(a.title)} ]`).join("  "));
  const refresh = card.refresh as { userIds?: string[] } | undefined;
  if (refresh)
    out.push(
      refresh.userIds
        ? `(refreshes automatically for ${refresh.userIds.length} approver(s))`
        : "(refreshes automatically for everyone in the conversation)",
    );
  const width = Math.min(110, Math.max(...out.map((l) => l.length)) + 2);
  const rule = `+${"-".repeat(width)}+`;
  return [rule, ...out.map((l) => `| ${l}`), rule].join("\n");
}

/** Path of the `adaptivecards` browser bundle (a devDependency), for the HTML page. */
export function adaptiveCardsBundle(): string {
  return createRequire(import.meta.url).resolve("adaptivecards/dist/adaptivecards.min.js");
}

/**
 * A self-contained page that renders the card in a browser. `scriptSrc` is where the page loads the
 * renderer from (a path relative to the page, or an inline bundle with `inlineScript`).
 */
export function cardHtml(
  card: Record<string, unknown>,
  opts: { title?: string; scriptSrc?: string; inlineScript?: string } = {},
): string {
  const json = JSON.stringify(card).replace(/</g, "\\u003c");
  const script = opts.inlineScript
    ? `<script>${opts.inlineScript.replace(/<\/script/gi, "<\\/script")}</script>`
    : `<script src="${opts.scriptSrc ?? ""}"></script>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${opts.title ?? "driftguard card"}</title>
<style>body{background:#f5f5f5;font-family:"Segoe UI",system-ui,sans-serif;margin:0;padding:24px}
#card{max-width:560px;background:#fff;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.15);overflow:hidden}</style>
${script}</head><body><div id="card"></div><script>
const card = new AdaptiveCards.AdaptiveCard();
card.hostConfig = new AdaptiveCards.HostConfig({ fontFamily: "Segoe UI, system-ui, sans-serif" });
card.parse(${json});
document.getElementById("card").appendChild(card.render());
document.body.dataset.rendered = "true";
</script></body></html>`;
}

/** Relative script path from an HTML file's folder to the renderer bundle. */
export function bundleRelativeTo(htmlDir: string): string {
  return path.relative(htmlDir, adaptiveCardsBundle()).split(path.sep).join("/");
}
