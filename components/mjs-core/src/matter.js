// The matter.js pieces the core is made of, and the pure-JS crypto provider under them.
//
// Everything protocol-shaped comes from matter.js 0.17.9 (@matter/general and
// @matter/protocol): SPAKE2+ (Spake2p), the PASE TLV schemas, the message codec, the
// status-report schema, the nonce builder, the MRP constants and backoff formula, and the
// AES-CCM of StandardCrypto. The hashes, HMAC, HKDF and PBKDF2 are @noble/hashes; the
// elliptic-curve arithmetic is matter.js's own (over @noble/curves). Randomness comes only
// from the `entropy` seam, through the `randomBytes` function the glue passes in.
//
// The build bundles this module as a function body the glue runs on first use (see
// build.mjs): evaluating it while componentize-js snapshots the engine aborts the snapshot.

import { Bytes, DataReader, DataWriter, Endian, Spake2p, StandardCrypto, ec } from "@matter/general";
import {
    MRP,
    MessageCodec,
    SPAKE_CONTEXT,
    SecureChannelStatusMessage,
    Session,
    TlvPasePake1,
    TlvPasePake2,
    TlvPasePake3,
    TlvPbkdfParamRequest,
    TlvPbkdfParamResponse,
} from "@matter/protocol";
import { SECURE_CHANNEL_PROTOCOL_ID, SecureChannelStatusCode, SecureMessageType } from "@matter/types";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";

// StandardCrypto insists on a WebCrypto-shaped object. Every method of it that would reach
// SubtleCrypto is overridden below, so SubtleCrypto is never called; if it ever were, the
// call fails loudly instead of reaching an engine facility outside the three seams.
function unavailable(name) {
    return () => {
        throw new Error(`SubtleCrypto.${name} is not available in this component`);
    };
}

const NO_SUBTLE = Object.fromEntries(
    ["digest", "deriveBits", "sign", "verify", "generateKey", "exportKey", "importKey"].map(name => [
        name,
        unavailable(name),
    ]),
);

/** matter.js's Crypto with synchronous pure-JS primitives and the entropy seam. */
export class SeamCrypto extends StandardCrypto {
    implementationName = "matter.js + @noble/hashes (entropy seam)";

    constructor(randomBytes) {
        super({
            getRandomValues(buffer) {
                buffer.set(randomBytes(buffer.length));
                return buffer;
            },
            subtle: NO_SUBTLE,
        });
    }

    computeHash(data, algorithm = "SHA-256") {
        if (algorithm !== "SHA-256") {
            throw new Error(`hash ${algorithm} is not provided by this component`);
        }
        return sha256(Array.isArray(data) ? Bytes.concat(...data) : Bytes.of(data));
    }

    // PBKDF2 runs interpreted (about 8 s for 1000 iterations here), and the conformance
    // export asks for the same key twice (its own w0s || w1s, then Spake2p.computeW0L):
    // the last result is kept, keyed by every input.
    #lastPbkdf2;

    createPbkdf2Key(secret, salt, iterations, keyLength) {
        const key = [Bytes.toHex(Bytes.of(secret)), Bytes.toHex(Bytes.of(salt)), iterations, keyLength].join(":");
        if (this.#lastPbkdf2?.key !== key) {
            const value = pbkdf2(sha256, Bytes.of(secret), Bytes.of(salt), { c: iterations, dkLen: keyLength });
            this.#lastPbkdf2 = { key, value };
        }
        return this.#lastPbkdf2.value.slice();
    }

    createHkdfKey(secret, salt, info, length = 16) {
        return hkdf(sha256, Bytes.of(secret), Bytes.of(salt), Bytes.of(info), length);
    }

    signHmac(key, data) {
        return hmac(sha256, Bytes.of(key), Bytes.of(data));
    }
}

export {
    Bytes,
    DataReader,
    DataWriter,
    Endian,
    MRP,
    MessageCodec,
    SECURE_CHANNEL_PROTOCOL_ID,
    SPAKE_CONTEXT,
    SecureChannelStatusCode,
    SecureChannelStatusMessage,
    SecureMessageType,
    Session,
    Spake2p,
    TlvPasePake1,
    TlvPasePake2,
    TlvPasePake3,
    TlvPbkdfParamRequest,
    TlvPbkdfParamResponse,
    ec,
};
