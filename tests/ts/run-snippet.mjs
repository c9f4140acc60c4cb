// Runs a TypeScript snippet as its reader would, after `tsc`: `node run-snippet.mjs snippet.ts`.
// The snippet is type-checked (strict, Node's ES modules) against this folder's official SDK,
// and a type error fails the run; then TypeScript's transpiler strips the types and Node runs
// the JavaScript in the caller's working directory (where the files it reads are). Both copies
// live beside this script, so `@leonardo-ai/sdk` resolves to this folder's install.
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const here = dirname(fileURLToPath(import.meta.url));
const OPTIONS = {
  strict: true, noEmit: true, skipLibCheck: true, types: ["node"], typeRoots: [join(here, "node_modules", "@types")],
  module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
};
const folder = join(here, ".snippets");
await mkdir(folder, { recursive: true });
const source = join(folder, `snippet-${process.pid}.ts`);
const script = source.replace(/\.ts$/, ".mjs");
await copyFile(process.argv[2], source);
try {
  const program = ts.createProgram([source], OPTIONS);
  const problems = ts.getPreEmitDiagnostics(program);
  if (problems.length) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => folder, getNewLine: () => "\n" };
    console.error(ts.formatDiagnostics(problems, host));
    process.exitCode = 2;
  } else {
    const text = program.getSourceFile(source).text;
    const { outputText } = ts.transpileModule(text, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    await writeFile(script, outputText);
    await import(pathToFileURL(script).href);
  }
} finally {
  await rm(source, { force: true });
  await rm(script, { force: true });
}
