// Bundles the web app and the GraphQL explorer into dist/ with esbuild: every library comes from
// node_modules (installed from package-lock.json), so nothing is fetched from a CDN at run time.
// Prints each output file's size; `make web` runs this.
import { build } from "esbuild";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: "src/app.js", explorer: "src/explorer.js" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  splitting: false,
  minify: true,
  sourcemap: true,
  target: ["chrome110", "firefox115", "safari16"],
  define: { "process.env.NODE_ENV": '"production"', global: "globalThis" },
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});

for (const [path, output] of Object.entries(result.metafile.outputs)) {
  if (path.endsWith(".map") || path.endsWith(".LEGAL.txt")) continue;
  console.log(`${path}: ${(statSync(`${root}/${path}`).size / 1024).toFixed(1)} KiB (${output.bytes} bytes)`);
}
