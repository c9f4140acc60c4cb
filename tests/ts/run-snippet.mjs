// Runs a TypeScript snippet as its reader would (after `tsc`, with the SDK installed here):
// `node run-snippet.mjs snippet.ts`. The types are stripped with TypeScript's own
// transpiler; the JavaScript lands beside this script, so `@leonardo-ai/sdk` resolves to
// this folder's copy, and runs with the caller's working directory (the files it reads).
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const source = process.argv[2];
const here = dirname(fileURLToPath(import.meta.url));
const { outputText, diagnostics } = ts.transpileModule(await readFile(source, "utf8"), {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  fileName: basename(source),
  reportDiagnostics: true,
});
if (diagnostics?.length) {
  for (const d of diagnostics) console.error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  process.exit(2);
}
const folder = join(here, ".snippets");
await mkdir(folder, { recursive: true });
const script = join(folder, `${process.pid}-${basename(source, ".ts")}.mjs`);
await writeFile(script, outputText);
try {
  await import(pathToFileURL(script).href);
} finally {
  await rm(script, { force: true });
}
