// Entry of the mjs-core component (world `core` of wit/pase.wit), for componentize-js.
//
// Imports exactly the three seams; exports `session-control` and `conformance`. No
// exception may escape an export (it would trap the instance for good), so each export
// turns any failure into a WIT `core-error` value. The exports that run SPAKE2+ are async
// (matter.js's Spake2p is); componentize-js runs the component's event loop until their
// promise settles, so they are synchronous component functions all the same.

import { receive, send } from "matter:pase/transport@0.1.0";
import { nowMs } from "matter:pase/clock@0.1.0";
import { randomBytes } from "matter:pase/entropy@0.1.0";

import { loadMatter } from "matter-lazy";
import { Conformance } from "./conformance.js";
import { Endpoint } from "./endpoint.js";
import { errorRecord, internalError } from "./errors.js";

function random(length) {
    const bytes = randomBytes(length);
    if (bytes.length !== length) {
        throw internalError(`entropy seam returned ${bytes.length} bytes, asked for ${length}`);
    }
    return Uint8Array.from(bytes);
}

// The core never uses ambient randomness: matter.js's MRP backoff draws its jitter from
// Math.random, so Math.random draws from the entropy seam (32 bits a call).
Math.random = () => new DataView(random(4).buffer).getUint32(0, true) / 2 ** 32;

// Nor the engine's `crypto` (its getRandomValues is engine randomness, and matter.js would
// adopt it as its default crypto while loading): randomness comes from the seam alone.
if (!Reflect.deleteProperty(globalThis, "crypto")) {
    Object.defineProperty(globalThis, "crypto", { value: undefined });
}

const seams = {
    send: datagram => send(datagram),
    receive: () => {
        const datagram = receive();
        return datagram === undefined || datagram === null ? undefined : Uint8Array.from(datagram);
    },
    now: () => Number(nowMs()),
    random,
};

// matter.js reads `performance` (its Time checks performance.timeOrigin when it loads);
// the engine's own clock is not a seam, so matter.js gets one backed by the clock seam.
const clockPerformance = Object.freeze({ timeOrigin: 0, now: () => Number(nowMs()) });

let loaded;
/** matter.js and the crypto provider (evaluated once, below). */
function lib() {
    if (loaded === undefined) {
        const m = loadMatter(clockPerformance);
        loaded = { m, crypto: new m.SeamCrypto(random) };
    }
    return loaded;
}

const endpoint = new Endpoint(lib, seams);
const checks = new Conformance(lib);

class ComponentError extends Error {
    constructor(record) {
        super(record.message);
        this.payload = record;
    }
}

function guard(body) {
    try {
        const value = body();
        if (value instanceof Promise) {
            return value.catch(error => {
                throw new ComponentError(errorRecord(error));
            });
        }
        return value;
    } catch (error) {
        throw new ComponentError(errorRecord(error));
    }
}

const bytes = value => Uint8Array.from(value);

export const sessionControl = {
    startCommissioner: config => guard(() => endpoint.startCommissioner(config.passcode)),
    startCommissionee: config =>
        guard(() => endpoint.startCommissionee(bytes(config.verifier), bytes(config.pbkdf.salt), config.pbkdf.iterations)),
    poll: () => guard(() => endpoint.poll()),
    status: () => guard(() => endpoint.status()),
    seal: (protocolId, opcode, payload) => guard(() => endpoint.seal(protocolId, opcode, bytes(payload))),
    open: () => guard(() => endpoint.open()),
    takeEvents: () => guard(() => endpoint.takeEvents()),
};

export const conformance = {
    passcodeVerifier: (passcode, salt, iterations) => guard(() => checks.passcodeVerifier(passcode, bytes(salt), iterations)),
    spake2pExchange: input =>
        guard(() =>
            checks.spake2pExchange({
                context: bytes(input.context),
                idProver: bytes(input.idProver),
                idVerifier: bytes(input.idVerifier),
                w0: bytes(input.w0),
                w1: bytes(input.w1),
                x: bytes(input.x),
                y: bytes(input.y),
            }),
        ),
    sessionKeys: ke => guard(() => checks.sessionKeys(bytes(ke))),
    ccmDecrypt: (key, nonce, aad, data) => guard(() => checks.ccmDecrypt(bytes(key), bytes(nonce), bytes(aad), bytes(data))),
    ccmEncrypt: (key, nonce, aad, plaintext) =>
        guard(() => checks.ccmEncrypt(bytes(key), bytes(nonce), bytes(aad), bytes(plaintext))),
};

// Evaluate matter.js now, while componentize-js snapshots the engine (Wizer), so that the
// snapshot holds it loaded and no instance pays for it (about 8 s interpreted). Loading
// reads no seam: the clock-backed `performance` is only read when called, and the
// engine's `crypto` (which matter.js would adopt) is gone; see README.md, finding 1.
lib();
