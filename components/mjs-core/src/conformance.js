// The conformance export: vector inputs in, every computed value out (the host grades).
//
// matter.js's Spake2p computes X, Y, Ke and both confirmations, but keeps Z, V and the
// transcript TT to itself and always uses empty identities (as Matter PASE does, Matter
// Core Specification 1.3, section 3.10). The vectors carry identities and ask for every
// intermediate value, so the glue builds TT itself from matter.js's P-256 operations
// (SPAKE2+ draft-01, section 3.3: each element as 8-byte little-endian length || bytes)
// and, whenever both identities are empty, checks that its Ke, cA and cB equal what
// matter.js's Spake2p computes; a difference is an `internal` error, never an answer.

import { cryptoError, invalidArgument } from "./errors.js";
import { validatePasscode, validatePbkdf } from "./session.js";

// SPAKE2+ draft-01, section 4 (P-256): the points M and N, compressed SEC1.
const M_HEX = "02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f";
const N_HEX = "03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49";

function equalBytes(a, b) {
    return a.length === b.length && a.every((value, i) => value === b[i]);
}

export class Conformance {
    constructor(lib) {
        this.lib = lib;
    }

    /** PBKDF2 output w0s || w1s (80 bytes) and the verifier w0 || L (97 bytes). */
    async passcodeVerifier(passcode, salt, iterations) {
        const { m, crypto } = this.lib();
        validatePasscode(passcode);
        validatePbkdf(salt, iterations);
        const pin = new Uint8Array(4);
        new DataView(pin.buffer).setUint32(0, passcode, true);
        const ws = m.Bytes.of(crypto.createPbkdf2Key(pin, salt, iterations, 80));
        const { w0, L } = await m.Spake2p.computeW0L(crypto, { iterations, salt }, passcode);
        return [ws, m.Bytes.concat(m.Bytes.fromBigInt(w0, 32), L)];
    }

    async spake2pExchange(input) {
        const { m, crypto } = this.lib();
        const { Bytes } = m;
        const { Point } = m.ec.p256;
        const n = Point.CURVE().n;
        const scalar = (bytes, name) => {
            if (bytes.length !== 32) throw invalidArgument(`${name} is ${bytes.length} bytes, expected 32`);
            const value = Bytes.asBigInt(bytes);
            if (value === 0n || value >= n) throw invalidArgument(`${name} is not a scalar in 1..n-1`);
            return value;
        };
        const w0 = scalar(input.w0, "w0");
        const w1 = scalar(input.w1, "w1");
        const x = scalar(input.x, "x");
        const y = scalar(input.y, "y");
        const base = Point.BASE.toBytes(false);
        const M = Point.fromHex(M_HEX).toBytes(false);
        const N = Point.fromHex(N_HEX).toBytes(false);
        const be = value => Bytes.fromBigInt(value, 32);
        const L = crypto.ecMultiply(base, be(w1));
        const prover = new m.Spake2p(crypto, input.context, x, w0);
        const verifier = new m.Spake2p(crypto, input.context, y, w0);
        const X = prover.computeX();
        const Y = verifier.computeY();
        // Prover: Z = x (Y - w0 N), V = w1 (Y - w0 N). Verifier: Z = y (X - w0 M), V = y L.
        const yMinus = crypto.ecAdd(Y, crypto.ecNegate(crypto.ecMultiply(N, be(w0))));
        const xMinus = crypto.ecAdd(X, crypto.ecNegate(crypto.ecMultiply(M, be(w0))));
        const Z = crypto.ecMultiply(yMinus, be(x));
        const V = crypto.ecMultiply(yMinus, be(w1));
        if (!equalBytes(Z, crypto.ecMultiply(xMinus, be(y))) || !equalBytes(V, crypto.ecMultiply(L, be(y)))) {
            throw cryptoError("prover and verifier derived different Z or V");
        }
        const writer = new m.DataWriter(m.Endian.Little);
        for (const element of [input.context, input.idProver, input.idVerifier, M, N, X, Y, Z, V, be(w0)]) {
            writer.writeUInt64(element.length);
            writer.writeByteArray(element);
        }
        const transcript = writer.toByteArray();
        const hash = crypto.computeHash(transcript);
        const ka = hash.slice(0, 16);
        const ke = hash.slice(16, 32);
        const kc = crypto.createHkdfKey(ka, new Uint8Array(0), Bytes.fromString("ConfirmationKeys"), 32);
        const kca = kc.slice(0, 16);
        const kcb = kc.slice(16, 32);
        const ca = crypto.signHmac(kca, Y);
        const cb = crypto.signHmac(kcb, X);
        if (input.idProver.length === 0 && input.idVerifier.length === 0) {
            const fromY = await prover.computeSecretAndVerifiersFromY(w1, X, Y);
            const fromX = await verifier.computeSecretAndVerifiersFromX(L, X, Y);
            for (const theirs of [fromY, fromX]) {
                if (!equalBytes(theirs.Ke, ke) || !equalBytes(theirs.hAY, ca) || !equalBytes(theirs.hBX, cb)) {
                    throw new Error("the glue's SPAKE2+ transcript disagrees with matter.js's Spake2p");
                }
            }
        }
        return { l: L, shareX: X, shareY: Y, z: Z, v: V, transcript, ka, ke, kca, kcb, ca, cb };
    }

    /** I2R || R2I || attestation challenge from Ke (section 4.13.2.1). */
    sessionKeys(ke) {
        const { m, crypto } = this.lib();
        if (ke.length !== 16) throw cryptoError(`Ke is ${ke.length} bytes, expected 16`);
        return m.Bytes.of(crypto.createHkdfKey(ke, new Uint8Array(0), m.Bytes.fromString("SessionKeys"), 48));
    }

    ccmDecrypt(key, nonce, aad, data) {
        const { crypto } = this.lib();
        checkCcm(key, nonce);
        try {
            return crypto.decrypt(key, data, nonce, aad);
        } catch (error) {
            throw cryptoError(`AES-CCM open failed: ${error.message}`);
        }
    }

    ccmEncrypt(key, nonce, aad, plaintext) {
        const { crypto } = this.lib();
        checkCcm(key, nonce);
        return crypto.encrypt(key, plaintext, nonce, aad);
    }
}

function checkCcm(key, nonce) {
    if (key.length !== 16) throw invalidArgument(`AES-CCM-128 key is ${key.length} bytes, expected 16`);
    if (nonce.length !== 13) throw invalidArgument(`AES-CCM nonce is ${nonce.length} bytes, expected 13`);
}
