// Builds the extension bundle (dist/extension.js) and, with --tests, the tests
// (test/**/*.test.ts to test-out/**/*.test.js, run by node's test runner).
import * as esbuild from "esbuild";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const args = new Set(process.argv.slice(2));
const production = args.has("--production");

function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith(".test.ts") || name.endsWith(".bench.ts")) out.push(p);
  }
  return out;
}

const extension = {
  entryPoints: ["src/extension.ts"],
  bundle: true,
  outfile: "dist/extension.js",
  external: ["vscode"],
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: !production,
  minify: production,
  logLevel: "warning",
};

if (args.has("--tests")) {
  rmSync("test-out", { recursive: true, force: true });
  await esbuild.build({
    entryPoints: testFiles("test"),
    outdir: "test-out",
    outbase: "test",
    bundle: true,
    packages: "external",
    format: "cjs",
    platform: "node",
    target: "node20",
    sourcemap: "inline",
    logLevel: "warning",
  });
} else if (args.has("--watch")) {
  const ctx = await esbuild.context(extension);
  await ctx.watch();
} else {
  rmSync("dist", { recursive: true, force: true });
  await esbuild.build(extension);
}
