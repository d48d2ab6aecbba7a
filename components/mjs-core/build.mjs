// Builds the mjs-core component: bundle (esbuild), then componentize (componentize-js).
//
//   node build.mjs --wit DIR --out FILE.wasm [--bundle FILE.js]
//
// matter.js is bundled as a CommonJS function body that the glue calls with its own
// `performance` (backed by the clock seam): matter.js reads `performance.timeOrigin` while
// loading, which aborts the engine snapshot (`bad_optional_access ... mozalloc_abort`,
// see README.md, finding 1).
// Prints one JSON line: output path, sizes and seconds per step.

import { componentize } from "@bytecodealliance/componentize-js";
import * as esbuild from "esbuild";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
    options: { wit: { type: "string" }, out: { type: "string" }, bundle: { type: "string" } },
});
if (!values.wit || !values.out) {
    console.error("usage: node build.mjs --wit DIR --out FILE.wasm [--bundle FILE.js]");
    process.exit(2);
}
const out = resolve(values.out);
const bundlePath = resolve(values.bundle ?? resolve(here, "dist", "mjs-core.js"));
const seconds = {};
let started = performance.now();

const common = {
    bundle: true,
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2022",
    legalComments: "none",
    logLevel: "warning",
    absWorkingDir: here,
};
const library = await esbuild.build({
    ...common,
    entryPoints: [resolve(here, "src", "matter.js")],
    format: "cjs",
    write: false,
});
const libraryText = library.outputFiles[0].text;
const lazyModule = [
    "let cached;",
    "export function loadMatter(performance) {",
    "    if (cached === undefined) {",
    "        const module = { exports: {} };",
    "        (function (module, exports, performance) {",
    libraryText,
    "        })(module, module.exports, performance);",
    "        cached = module.exports;",
    "    }",
    "    return cached;",
    "}",
].join("\n");
const lazyPlugin = {
    name: "matter-lazy",
    setup(build) {
        build.onResolve({ filter: /^matter-lazy$/ }, () => ({ path: "matter-lazy", namespace: "matter-lazy" }));
        build.onLoad({ filter: /.*/, namespace: "matter-lazy" }, () => ({ contents: lazyModule, loader: "js" }));
    },
};
await mkdir(dirname(bundlePath), { recursive: true });
await esbuild.build({
    ...common,
    entryPoints: [resolve(here, "src", "glue.js")],
    format: "esm",
    external: ["matter:pase/*"],
    plugins: [lazyPlugin],
    outfile: bundlePath,
});
seconds.bundle = (performance.now() - started) / 1000;

started = performance.now();
const { component, imports } = await componentize({
    sourcePath: bundlePath,
    witPath: resolve(values.wit),
    worldName: "core",
    // A pure component: no WASI at all, only the world's own imports (the three seams).
    disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"],
});
seconds.componentize = (performance.now() - started) / 1000;
await mkdir(dirname(out), { recursive: true });
await writeFile(out, component);
console.log(
    JSON.stringify({
        out,
        bytes: component.length,
        bundle: bundlePath,
        library_bytes: libraryText.length,
        imports,
        seconds,
    }),
);
