// The JS host of the second runtime: components transpiled by jco, run on Node's V8.
//
// Protocol (documented in harness/drive/jshost.py): JSON lines. The host writes one line
// {"ready": {...}} when it starts, then answers each request line with exactly one line,
// {"ok": value} or {"error": {"kind": "guest"|"trap"|"host", "message": ..., "payload"?}}.
// Bytes travel as {"hex": "..."}; record fields as snake_case keys; u64 values as numbers.
// Nothing else is written to stdout (diagnostics go to stderr).

import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";

import {
  HmacDrbg,
  LoopbackLink,
  MonotonicClock,
  VirtualClock,
  entropyFor,
  newCounters,
  roleImports,
  seedMaterial,
} from "./seams.mjs";

const here = dirname(new URL(import.meta.url).pathname);

class HostError extends Error {}

// ------------------------------------------------------------------ value conversion

const toSnake = (key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toCamel = (key) => key.replace(/[-_]([a-z0-9])/g, (_, c) => c.toUpperCase());

/** A component value as JSON: bytes as {"hex"}, bigints as numbers, snake_case keys. */
export function toJson(value) {
  if (value === undefined || value === null) return null;
  if (value instanceof Uint8Array) return { hex: Buffer.from(value).toString("hex") };
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) return value.toString();
    return Number(value);
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) out[toSnake(key)] = toJson(item);
    return out;
  }
  return value;
}

/** A request argument as a component value: {"hex"} to bytes, keys to camelCase. */
export function fromJson(value) {
  if (value === null) return undefined;
  if (Array.isArray(value)) return value.map(fromJson);
  if (typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "hex") return Uint8Array.from(Buffer.from(value.hex, "hex"));
    const out = {};
    for (const [key, item] of Object.entries(value)) out[toCamel(key)] = fromJson(item);
    return out;
  }
  return value;
}

// ------------------------------------------------------------------------ the session

const state = {
  clock: null,
  entropy: null,
  link: null,
  counters: {},
  instances: new Map(),
  modules: new Map(),
};

function needSeams() {
  if (state.clock === null) throw new HostError("no seams yet: send 'seams' first");
}

async function coreModule(dir, path) {
  const file = join(dir, path);
  if (!state.modules.has(file)) {
    state.modules.set(file, readFile(file).then((bytes) => WebAssembly.compile(bytes)));
  }
  return state.modules.get(file);
}

const ops = {
  hello() {
    const manifest = join(here, "node_modules", "@bytecodealliance", "jco", "package.json");
    const jco = JSON.parse(readFileSync(manifest, "utf8"));
    return { node: process.version, v8: process.versions.v8, jco: jco.version };
  },

  // The run's seams: one clock, one entropy stream, the loopback between the roles.
  seams({ seed, real_clock: realClock, roles }) {
    state.clock = realClock ? new MonotonicClock() : new VirtualClock();
    state.entropy = entropyFor(seed === null ? null : BigInt(seed));
    state.link = new LoopbackLink(roles, state.clock);
    state.counters = Object.fromEntries(roles.map((role) => [role, newCounters()]));
    state.instances.clear();
    return null;
  },

  // Instantiate the transpiled component `module` (its ES module entry) as `name`,
  // linked to the seams of `role` (with the loopback endpoint when `transport`).
  async instantiate({ module, name, role, transport }) {
    needSeams();
    if (!(role in state.counters)) throw new HostError(`unknown role ${role}`);
    const started = process.hrtime.bigint();
    const dir = dirname(module);
    const { instantiate } = await import(pathToFileURL(module).href);
    const roles = state.link.names;
    const imports = roleImports({
      link: transport ? state.link : null,
      name: role,
      peer: role === roles[0] ? roles[1] : roles[0],
      clock: state.clock,
      entropy: state.entropy,
      counters: state.counters[role],
    });
    const root = await instantiate((path) => coreModule(dir, path), imports);
    state.instances.set(name, { root, dead: null });
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  },

  // Call export function `fn` (kebab-case) of interface `iface` of instance `instance`.
  call({ instance, iface, fn, args }) {
    const entry = state.instances.get(instance);
    if (entry === undefined) throw new HostError(`no instance called ${instance}`);
    if (entry.dead !== null) {
      return { trap: `instance ${instance} trapped earlier and is dead: ${entry.dead}` };
    }
    const exported = entry.root[iface] ?? entry.root[toCamel(iface)];
    if (exported === undefined) throw new HostError(`${instance} does not export ${iface}`);
    const target = exported[toCamel(fn)];
    if (typeof target !== "function") throw new HostError(`${iface} has no function ${fn}`);
    try {
      return { value: toJson(target(...fromJson(args))) };
    } catch (err) {
      if (err !== null && typeof err === "object" && "payload" in err) {
        return { guest_error: toJson(err.payload) };
      }
      // A trap, or a host exception unwound through the guest: either way the
      // instance's state is unknown from here on, as after a trap under wasmtime.
      entry.dead = describe(err);
      if (err instanceof WebAssembly.RuntimeError) return { trap: err.message };
      throw err;
    }
  },

  clock_peek() {
    needSeams();
    return state.clock.peek();
  },

  clock_advance_to({ ms }) {
    needSeams();
    state.clock.advanceTo(ms);
    return state.clock.peek();
  },

  // What the seams saw: per-role counters, the packet trace, datagrams refused.
  seam_report() {
    needSeams();
    return {
      counters: state.counters,
      dropped: state.link.dropped,
      trace: state.link.trace.map((p) => ({
        direction: p.direction,
        time_ms: p.time_ms,
        data: { hex: Buffer.from(p.data).toString("hex") },
      })),
    };
  },

  // HMAC-DRBG output for the cross-language test: one Generate call per size.
  drbg({ seed, stream, sizes }) {
    const drbg = new HmacDrbg(seedMaterial(BigInt(seed)), Buffer.from(stream, "utf8"));
    return sizes.map((n) => ({ hex: drbg.generate(n).toString("hex") }));
  },
};

function reply(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function describe(err) {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

async function main() {
  reply({ ready: ops.hello() });
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let request;
    try {
      request = JSON.parse(line);
    } catch (err) {
      reply({ error: { kind: "host", message: `request is not JSON: ${describe(err)}` } });
      continue;
    }
    if (request.op === "shutdown") {
      reply({ ok: null });
      break;
    }
    const op = ops[request.op];
    if (op === undefined) {
      reply({ error: { kind: "host", message: `unknown op ${JSON.stringify(request.op)}` } });
      continue;
    }
    try {
      const result = await op(request);
      if (result !== null && typeof result === "object" && "trap" in result) {
        reply({ error: { kind: "trap", message: result.trap } });
      } else if (result !== null && typeof result === "object" && "guest_error" in result) {
        reply({ error: { kind: "guest", message: "the guest returned an error", payload: result.guest_error } });
      } else if (result !== null && typeof result === "object" && "value" in result) {
        reply({ ok: result.value });
      } else {
        reply({ ok: result });
      }
    } catch (err) {
      reply({ error: { kind: "host", message: `${request.op}: ${describe(err)}` } });
    }
  }
}

main().catch((err) => {
  process.stderr.write(`jshost: ${describe(err)}\n`);
  process.exit(3);
});
