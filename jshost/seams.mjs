// The host seams of a run, in JavaScript: the same semantics as the Python harness's
// harness/seams (entropy.py, clock.py, loopback.py, counters.py), so a seeded run under
// V8 draws the same bytes, reads the same times and carries the same datagrams as one
// under wasmtime. A cross-language test (tests/harness/drive/test_jco.py) compares them.

import { createHash, createHmac, randomBytes } from "node:crypto";

/** The largest single entropy request the seam serves (the WIT interface says so). */
export const MAX_ENTROPY_REQUEST = 1024;
/** The personalization string of a run's stream. */
export const RUN_STREAM = "run";
/** Datagrams a loopback queue holds before it refuses more. */
export const LOOPBACK_QUEUE_LIMIT = 256;
/** The largest datagram the loopback accepts (an IPv6 minimum-MTU UDP payload). */
export const MAX_DATAGRAM = 1280;

/**
 * HMAC-DRBG with SHA-256, NIST SP 800-90A Rev. 1 section 10.1.2, without reseeding.
 * Instantiate: Key = 0x00..00, V = 0x01..01, Update(seed_material || personalization).
 * Each generate() call is one Generate call with no additional input.
 */
export class HmacDrbg {
  constructor(seedMaterial, personalization = Buffer.alloc(0)) {
    this.key = Buffer.alloc(32, 0);
    this.value = Buffer.alloc(32, 1);
    this.update(Buffer.concat([seedMaterial, personalization]));
    this.reseedCounter = 1;
  }

  mac(key, data) {
    return createHmac("sha256", key).update(data).digest();
  }

  update(provided) {
    this.key = this.mac(this.key, Buffer.concat([this.value, Buffer.from([0]), provided]));
    this.value = this.mac(this.key, this.value);
    if (provided.length > 0) {
      this.key = this.mac(this.key, Buffer.concat([this.value, Buffer.from([1]), provided]));
      this.value = this.mac(this.key, this.value);
    }
  }

  generate(length) {
    if (length < 0) throw new RangeError("cannot generate a negative number of bytes");
    const out = [];
    let have = 0;
    while (have < length) {
      this.value = this.mac(this.key, this.value);
      out.push(this.value);
      have += this.value.length;
    }
    this.update(Buffer.alloc(0));
    this.reseedCounter += 1;
    return Buffer.concat(out).subarray(0, length);
  }
}

/** The DRBG entropy input for a seed: SHA-256("matter-harness seed:" || decimal seed). */
export function seedMaterial(seed) {
  return createHash("sha256").update(`matter-harness seed:${BigInt(seed).toString(10)}`, "ascii").digest();
}

function checkRequest(n) {
  if (!Number.isInteger(n) || n < 0 || n > MAX_ENTROPY_REQUEST) {
    throw new RangeError(`entropy request of ${n} bytes is outside 0..${MAX_ENTROPY_REQUEST}`);
  }
}

/** Deterministic entropy: the HMAC-DRBG stream of a seed, one Generate call per request. */
export class SeededEntropy {
  constructor(seed, stream = RUN_STREAM) {
    this.drbg = new HmacDrbg(seedMaterial(seed), Buffer.from(stream, "utf8"));
  }

  randomBytes(n) {
    checkRequest(n);
    return this.drbg.generate(n);
  }
}

/** Entropy from the operating system (runs without a seed). */
export class OsEntropy {
  randomBytes(n) {
    checkRequest(n);
    return randomBytes(n);
  }
}

/** The run's one entropy stream: seeded when a seed is given, else the OS's. */
export function entropyFor(seed) {
  return seed === null || seed === undefined ? new OsEntropy() : new SeededEntropy(seed);
}

/** A clock the driver advances: time passes only when the driver says so. */
export class VirtualClock {
  constructor(startMs = 0) {
    this.now = startMs;
  }

  peek() {
    return this.now;
  }

  advanceTo(whenMs) {
    this.now = Math.max(this.now, whenMs);
  }
}

/** The host's monotonic clock, in milliseconds since this object was made. */
export class MonotonicClock {
  constructor() {
    this.origin = process.hrtime.bigint();
  }

  peek() {
    return Number((process.hrtime.bigint() - this.origin) / 1_000_000n);
  }

  advanceTo(whenMs) {
    const delay = whenMs - this.peek();
    if (delay > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
  }
}

/** How often each seam was crossed, and how many bytes went over it (counters.py). */
export function newCounters() {
  return {
    clock_reads: 0,
    entropy_calls: 0,
    entropy_bytes: 0,
    transport_sends: 0,
    transport_send_bytes: 0,
    transport_receives: 0,
    transport_receive_bytes: 0,
    transport_empty_receives: 0,
  };
}

/** In-memory datagram link between two named endpoints, with a per-packet trace. */
export class LoopbackLink {
  constructor(names, clock) {
    this.names = names;
    this.clock = clock;
    this.trace = [];
    this.dropped = 0;
    this.queues = new Map(names.map((name) => [name, []]));
  }

  deliver(sender, receiver, datagram) {
    const queue = this.queues.get(receiver);
    if (queue.length >= LOOPBACK_QUEUE_LIMIT || datagram.length > MAX_DATAGRAM) {
      this.dropped += 1;
      return false;
    }
    this.trace.push({ direction: `${sender}->${receiver}`, time_ms: this.clock.peek(), data: datagram });
    queue.push(datagram);
    return true;
  }

  take(receiver) {
    const queue = this.queues.get(receiver);
    return queue.length > 0 ? queue.shift() : undefined;
  }
}

/**
 * One role's imports: the transport endpoint (if the instance takes one), the shared
 * clock and entropy stream seen through counting views, each crossing counted once.
 * Keys are given with and without the package version (jco's instantiation mode looks
 * them up without it).
 */
export function roleImports({ link, name, peer, clock, entropy, counters }) {
  const clockImport = {
    nowMs() {
      counters.clock_reads += 1;
      return BigInt(clock.peek());
    },
  };
  const entropyImport = {
    randomBytes(n) {
      const data = entropy.randomBytes(n);
      counters.entropy_calls += 1;
      counters.entropy_bytes += n;
      return new Uint8Array(data);
    },
  };
  const imports = { clock: clockImport, entropy: entropyImport };
  if (link !== null) {
    imports.transport = {
      send(datagram) {
        counters.transport_sends += 1;
        counters.transport_send_bytes += datagram.length;
        return link.deliver(name, peer, Uint8Array.from(datagram));
      },
      receive() {
        const datagram = link.take(name);
        if (datagram === undefined) {
          counters.transport_empty_receives += 1;
        } else {
          counters.transport_receives += 1;
          counters.transport_receive_bytes += datagram.length;
        }
        return datagram;
      },
    };
  }
  const out = {};
  for (const [iface, impl] of Object.entries(imports)) {
    out[`matter:pase/${iface}`] = impl;
    out[`matter:pase/${iface}@0.1.0`] = impl;
  }
  return out;
}
