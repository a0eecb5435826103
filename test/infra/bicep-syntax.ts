/**
 * Bicep syntax check without the Bicep compiler: the tree-sitter Bicep grammar (WASM, from the
 * `tree-sitter-bicep` package) run by `web-tree-sitter`. A parse error or a token the parser had to
 * invent (ERROR / MISSING node) is reported as `file:line:column`. It proves the text is Bicep, not
 * that ARM accepts it (types, API versions and property names are checked by the other infra tests).
 */
import { createRequire } from "node:module";
import { Language, type Node, Parser } from "web-tree-sitter";

const require = createRequire(import.meta.url);
let parser: Promise<Parser> | undefined;

/** One parser per process; the grammar's WASM file is resolved from node_modules (works after `npm ci`). */
function bicepParser(): Promise<Parser> {
  parser ??= (async () => {
    await Parser.init();
    const language = await Language.load(require.resolve("tree-sitter-bicep/tree-sitter-bicep.wasm"));
    const p = new Parser();
    p.setLanguage(language);
    return p;
  })();
  return parser;
}

/** Syntax errors of one Bicep source, e.g. `infra/main.bicep:12:5: unexpected 'foo'`. Empty = parses. */
export async function bicepSyntaxErrors(source: string, file: string): Promise<string[]> {
  const tree = (await bicepParser()).parse(source);
  if (!tree) throw new Error(`tree-sitter returned no tree for ${file}`);
  const errors: string[] = [];
  const visit = (node: Node) => {
    const where = `${file}:${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
    if (node.isMissing) errors.push(`${where}: missing ${node.type}`);
    else if (node.isError) {
      const text = node.text.split("\n")[0]!.slice(0, 60);
      errors.push(`${where}: unexpected '${text}'`);
    }
    for (const child of node.children) if (child && (child.hasError || child.isMissing)) visit(child);
  };
  if (tree.rootNode.hasError) visit(tree.rootNode);
  tree.delete();
  return errors;
}
