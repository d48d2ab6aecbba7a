// One PASE session in either role over matter.js's pieces: the only protocol code of ours.
//
// matter.js supplies the message codec (MessageCodec), the PASE TLV schemas, SPAKE2+
// (Spake2p), the status-report schema, the nonce builder, the MRP backoff formula and
// AES-CCM. What is ours is the state machine that strings them together without
// matter.js's exchange manager (which needs sockets and timers): which message is accepted
// in which state, the Message Reliability Protocol bookkeeping (acks, retransmissions),
// the transcript hash, failure reporting and the secure session's counters.
//
// Matter Core Specification 1.3: section 4.4 (message format), section 4.12 (MRP),
// section 4.14.1 (PASE), section 4.13.2 (secure session keys). The wire behaviour follows
// what the project's core (components/core/matter_core) sends and expects.

import {
    GENERAL_FAILURE,
    GENERAL_SUCCESS,
    PROTOCOL_INVALID_PARAMETER,
    PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS,
    CoreError,
    confirmationFailed,
    cryptoError,
    decodeError,
    decoding,
    invalidArgument,
    protocolError,
    timeoutError,
    wrongState,
} from "./errors.js";

// Section 4.12.8: MRP parameters and the default session parameters (idle 500 ms, active
// 300 ms, active threshold 4 s), which both roles announce (tag 5 of the PBKDF messages).
const LOCAL_SESSION_PARAMETERS = { idleInterval: 500, activeInterval: 300, activeThreshold: 4000 };
const HANDSHAKE_TIMEOUT_MS = 60_000;
const COUNTER_INIT_MASK = 0x0fffffff;
const MAX_DATAGRAMS_PER_POLL = 64;
const MAX_SECURED_BACKLOG = 64;
const MAX_EVENTS = 64;
const DIRECTION_I2R = 1;
const DIRECTION_R2I = 2;
// Section 4.14.1.1: PBKDF iterations 1000..100000, salt 16..32 bytes.
const MIN_ITERATIONS = 1000;
const MAX_ITERATIONS = 100000;
const MIN_SALT = 16;
const MAX_SALT = 32;
// Section 5.1.7.1: passcodes 1..99999998 except the trivial ones.
const MAX_PASSCODE = 99999998;
const EXCLUDED_PASSCODES = new Set([
    0, 11111111, 22222222, 33333333, 44444444, 55555555, 66666666, 77777777, 88888888, 99999999, 12345678,
    87654321,
]);
const SESSION_KEYS_INFO = "SessionKeys";

/** The drop reasons of the WIT `drop-count`, in their reporting order. */
export const DROP_REASONS = [
    "malformed",
    "version",
    "privacy",
    "group",
    "session-id",
    "destination",
    "source-node",
    "vendor",
    "protocol",
    "exchange",
    "initiator-flag",
    "unexpected-before-request",
    "duplicate",
    "after-establishment",
    "after-failure",
    "backlog-full",
];

export function validatePasscode(passcode) {
    if (!Number.isInteger(passcode) || passcode < 1 || passcode > MAX_PASSCODE || EXCLUDED_PASSCODES.has(passcode)) {
        throw invalidArgument(
            `passcode ${passcode} is not a valid Matter setup passcode (1..${MAX_PASSCODE}, excluding 11111111, 12345678 and the like)`,
        );
    }
}

export function validatePbkdf(salt, iterations) {
    if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
        throw invalidArgument(`PBKDF2 iterations ${iterations} outside ${MIN_ITERATIONS}..${MAX_ITERATIONS}`);
    }
    if (salt.length < MIN_SALT || salt.length > MAX_SALT) {
        throw invalidArgument(`PBKDF2 salt of ${salt.length} bytes, expected ${MIN_SALT}..${MAX_SALT}`);
    }
}

function littleEndian(bytes) {
    let value = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    return value;
}

function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
}

/** The transition table: (role, state) -> opcode accepted -> next state. */
function transitions(T) {
    return {
        commissioner: {
            EXPECT_PBKDF_PARAM_RESPONSE: { [T.PbkdfParamResponse]: "EXPECT_PAKE2", [T.StatusReport]: "FAILED" },
            EXPECT_PAKE2: { [T.PasePake2]: "EXPECT_STATUS_REPORT", [T.StatusReport]: "FAILED" },
            EXPECT_STATUS_REPORT: { [T.StatusReport]: "ESTABLISHED" },
        },
        commissionee: {
            EXPECT_PBKDF_PARAM_REQUEST: { [T.PbkdfParamRequest]: "EXPECT_PAKE1" },
            EXPECT_PAKE1: { [T.PasePake1]: "EXPECT_PAKE3", [T.StatusReport]: "FAILED" },
            EXPECT_PAKE3: { [T.PasePake3]: "ESTABLISHED", [T.StatusReport]: "FAILED" },
        },
    };
}

/**
 * One PASE session. `seams` has `send(bytes) -> bool`, `receive() -> bytes|undefined`,
 * `now() -> number` and `random(n) -> Uint8Array`; `m` is the matter.js library face.
 */
export class PaseSession {
    constructor(m, crypto, seams, role, now) {
        this.m = m;
        this.crypto = crypto;
        this.seams = seams;
        this.role = role;
        this.T = m.SecureMessageType;
        this.table = transitions(this.T)[role];
        this.state = "IDLE";
        this.startedAt = now;
        this.failure = undefined;
        this.localSessionId = 0;
        this.peerSessionId = 0;
        this.counter = littleEndian(seams.random(4)) & BigInt(COUNTER_INIT_MASK);
        this.nodeId = undefined;
        this.peerNodeId = undefined;
        this.exchangeId = undefined;
        this.handled = new Set();
        this.outstanding = undefined;
        this.pendingAck = undefined;
        this.transcript = [];
        this.transcriptHash = new Uint8Array(0);
        this.outbox = [];
        this.events = [];
        this.secure = undefined;
        this.datagramsSent = 0;
        this.datagramsReceived = 0;
        this.drops = new Map();
        this.retransmissions = 0;
        this.acksSent = 0;
        this.peerTiming = { ...LOCAL_SESSION_PARAMETERS };
        this.lastHeard = undefined;
    }

    // ---------------------------------------------------------------- receiving

    countDrop(reason) {
        this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    }

    /**
     * Phase one of a receive (cheap): classify, process the ack it carries, re-ack a
     * duplicate. Returns the delivery for `handleDelivery`, or undefined.
     */
    accept(datagram, now) {
        this.datagramsReceived++;
        if (this.state === "IDLE") {
            this.countDrop("unexpected-before-request");
            return undefined;
        }
        const verdict = this.classify(datagram);
        if (verdict.drop !== undefined) {
            this.countDrop(verdict.drop);
            return undefined;
        }
        const { header, payloadHeader, payload } = verdict;
        if (this.state === "EXPECT_PBKDF_PARAM_REQUEST" && !this.openExchange(header, payloadHeader, payload)) {
            this.countDrop("malformed");
            return undefined;
        }
        this.lastHeard = now;
        const counter = header.messageId;
        if (this.outstanding !== undefined && payloadHeader.ackedMessageId === this.outstanding.counter) {
            this.outstanding = undefined;
        }
        if (verdict.duplicate) {
            this.countDrop("duplicate");
            if (payloadHeader.requiresAck) this.sendAck(counter, now);
            return undefined;
        }
        if (payloadHeader.messageType === this.T.StandaloneAck) return undefined;
        if (this.state === "ESTABLISHED" || this.state === "FAILED") {
            // Section 4.12.2.2: a message after the handshake neither moves nor kills it; the
            // peer's report (or its retransmission) is still acknowledged.
            this.countDrop(this.state === "ESTABLISHED" ? "after-establishment" : "after-failure");
            this.handled.add(counter);
            if (payloadHeader.requiresAck) this.sendAck(counter, now);
            return undefined;
        }
        this.handled.add(counter);
        if (payloadHeader.requiresAck) this.pendingAck = counter;
        const next = this.table[this.state]?.[payloadHeader.messageType];
        if (next === undefined) {
            const expected = Object.keys(this.table[this.state] ?? {})
                .map(op => this.T[op])
                .join(", ");
            this.fail(
                protocolError(
                    `unexpected message (opcode 0x${payloadHeader.messageType.toString(16).padStart(2, "0")}) in state ${this.state}: expected ${expected || "no handshake message"}`,
                ),
                now,
            );
            return undefined;
        }
        if (
            this.pendingAck !== undefined &&
            this.role === "commissioner" &&
            payloadHeader.messageType === this.T.PbkdfParamResponse
        ) {
            // PBKDF2 ahead (up to 100,000 iterations): acknowledge at once, so the peer does
            // not retransmit while we compute (section 4.12.2.2, standalone ack).
            this.sendAck(this.pendingAck, now);
            this.pendingAck = undefined;
        }
        return { datagram, opcode: payloadHeader.messageType, payload, next };
    }

    /** Phase two: run the handler of a delivered message (async: SPAKE2+ is). */
    async handleDelivery(delivery, now) {
        if (this.state === "FAILED" || this.state === "ESTABLISHED") return;
        try {
            this.record(delivery.datagram, this.role === "commissioner" ? DIRECTION_R2I : DIRECTION_I2R);
            await this.handle(delivery.opcode, delivery.payload, delivery.next, now);
        } catch (error) {
            this.fail(asCoreError(error), now);
        }
        if (this.pendingAck !== undefined) {
            this.sendAck(this.pendingAck, now);
            this.pendingAck = undefined;
        }
    }

    /** Which datagrams belong to the session (the message layer of section 4.6). */
    classify(datagram) {
        const { MessageCodec } = this.m;
        if (datagram.length === 0) return { drop: "malformed" };
        if (datagram[0] >> 4 !== 0) return { drop: "version" };
        if (datagram.length > 3 && datagram[3] & 0x80) return { drop: "privacy" };
        let packet;
        let message;
        try {
            packet = MessageCodec.decodePacket(datagram);
        } catch {
            return { drop: "malformed" };
        }
        const header = packet.header;
        if (header.sessionType === 1 || header.destGroupId !== undefined) return { drop: "group" };
        if (header.sessionId !== 0) return { drop: "session-id" };
        try {
            message = MessageCodec.decodePayload(packet);
        } catch {
            return { drop: "malformed" };
        }
        const payloadHeader = message.payloadHeader;
        if (payloadHeader.protocolId > 0xffff) return { drop: "vendor" };
        if (payloadHeader.protocolId !== this.m.SECURE_CHANNEL_PROTOCOL_ID) return { drop: "protocol" };
        if (this.role === "commissioner") {
            if (header.destNodeId !== undefined && BigInt(header.destNodeId) !== this.nodeId) {
                return { drop: "destination" };
            }
            if (payloadHeader.exchangeId !== this.exchangeId) return { drop: "exchange" };
            if (payloadHeader.isInitiatorMessage) return { drop: "initiator-flag" };
        } else {
            if (header.destNodeId !== undefined) return { drop: "destination" };
            if (this.exchangeId !== undefined && payloadHeader.exchangeId !== this.exchangeId) {
                return { drop: "exchange" };
            }
            if (!payloadHeader.isInitiatorMessage) return { drop: "initiator-flag" };
            if (header.sourceNodeId === undefined) return { drop: "source-node" };
            if (this.peerNodeId !== undefined && BigInt(header.sourceNodeId) !== this.peerNodeId) {
                return { drop: "source-node" };
            }
        }
        if (this.handled.has(header.messageId)) {
            return { duplicate: true, header, payloadHeader, payload: message.payload };
        }
        if (this.exchangeId === undefined && payloadHeader.messageType !== this.T.PbkdfParamRequest) {
            return { drop: "unexpected-before-request" };
        }
        return { header, payloadHeader, payload: message.payload };
    }

    // ---------------------------------------------------------------- timers

    handleTimer(now) {
        if (this.state === "IDLE" || this.state === "EXPECT_PBKDF_PARAM_REQUEST") return;
        if (this.state !== "ESTABLISHED" && this.state !== "FAILED" && now - this.startedAt >= HANDSHAKE_TIMEOUT_MS) {
            this.fail(timeoutError("PASE did not complete within 60 s"), now, false);
            return;
        }
        const out = this.outstanding;
        if (out === undefined || !out.sent || now < out.due) return;
        if (out.transmissions >= this.m.MRP.MAX_TRANSMISSIONS) {
            this.outstanding = undefined;
            if (this.state !== "ESTABLISHED" && this.state !== "FAILED") {
                this.fail(
                    timeoutError(
                        `no acknowledgement after ${this.m.MRP.MAX_TRANSMISSIONS - 1} retransmissions in state ${this.state}`,
                    ),
                    now,
                    false,
                );
            }
            return;
        }
        out.backoff = this.backoff(out.transmissions, now);
        out.transmissions++;
        out.due = now + out.backoff;
        this.retransmissions++;
        this.sendRaw(out.datagram);
    }

    nextDeadline() {
        if (this.state === "IDLE" || this.state === "EXPECT_PBKDF_PARAM_REQUEST") return undefined;
        const deadlines = [];
        if (this.outstanding !== undefined && this.outstanding.sent) deadlines.push(this.outstanding.due);
        if (this.state !== "ESTABLISHED" && this.state !== "FAILED") {
            deadlines.push(this.startedAt + HANDSHAKE_TIMEOUT_MS);
        }
        return deadlines.length ? Math.min(...deadlines) : undefined;
    }

    /** Datagrams produced since the last call; a reliable one's timer starts `now`. */
    takeOutbox(now) {
        const out = this.outstanding;
        if (out !== undefined && !out.sent) {
            out.sent = true;
            out.due = now + out.backoff;
        }
        const datagrams = this.outbox;
        this.outbox = [];
        return datagrams;
    }

    /** matter.js's MRP backoff (section 4.12.2.1); its jitter is Math.random, which the
     * glue routes to the entropy seam. */
    backoff(transmissionNumber, now) {
        const active = this.lastHeard !== undefined && now - this.lastHeard < this.peerTiming.activeThreshold;
        return this.m.MRP.retransmissionIntervalOf({
            transmissionNumber,
            sessionParameters: this.peerTiming,
            isPeerActive: active,
        });
    }

    // ---------------------------------------------------------------- sending

    nextCounter() {
        const counter = Number(this.counter);
        this.counter = (this.counter + 1n) & 0xffffffffn;
        return counter;
    }

    record(datagram, direction) {
        const frame = new Uint8Array(5);
        frame[0] = direction;
        new DataView(frame.buffer).setUint32(1, datagram.length, true);
        this.transcript.push(frame, datagram);
    }

    send(opcode, payload, now, { reliable = true, record = true, ack } = {}) {
        const { MessageCodec } = this.m;
        const counter = this.nextCounter();
        if (ack === undefined) {
            ack = this.pendingAck;
            this.pendingAck = undefined;
        }
        const packetHeader = {
            sessionId: 0,
            sessionType: 0,
            messageId: counter,
            sourceNodeId: this.nodeId,
            destNodeId: this.role === "commissionee" ? this.peerNodeId : undefined,
            hasPrivacyEnhancements: false,
        };
        const payloadHeader = {
            exchangeId: this.exchangeId ?? 0,
            protocolId: this.m.SECURE_CHANNEL_PROTOCOL_ID,
            messageType: opcode,
            isInitiatorMessage: this.role === "commissioner",
            requiresAck: reliable,
            ackedMessageId: ack,
        };
        const datagram = MessageCodec.encodePacket(MessageCodec.encodePayload({ packetHeader, payloadHeader, payload }));
        if (record) this.record(datagram, this.role === "commissioner" ? DIRECTION_I2R : DIRECTION_R2I);
        if (reliable) {
            const backoff = this.backoff(0, now);
            this.outstanding = { datagram, counter, backoff, due: now + backoff, sent: false, transmissions: 1 };
        }
        this.sendRaw(datagram);
    }

    sendAck(counter, now) {
        this.acksSent++;
        this.send(this.T.StandaloneAck, new Uint8Array(0), now, { reliable: false, record: false, ack: counter });
    }

    sendRaw(datagram) {
        this.datagramsSent++;
        this.outbox.push(datagram);
    }

    // ---------------------------------------------------------------- outcome

    establish(ke) {
        const { Bytes } = this.m;
        this.state = "ESTABLISHED";
        this.transcriptHash = this.crypto.computeHash(this.transcript);
        // Section 4.13.2.1 (PASE session keys): HKDF(Ke, salt empty, "SessionKeys") gives
        // I2R || R2I || AttestationChallenge.
        const keys = this.crypto.createHkdfKey(ke, new Uint8Array(0), Bytes.fromString(SESSION_KEYS_INFO), 48);
        const [i2r, r2i] = [keys.slice(0, 16), keys.slice(16, 32)];
        const initiator = this.role === "commissioner";
        this.secure = new SecureChannel(this.m, this.crypto, {
            initiator,
            encryptKey: initiator ? i2r : r2i,
            decryptKey: initiator ? r2i : i2r,
            localSessionId: this.localSessionId,
            peerSessionId: this.peerSessionId,
            counter: littleEndian(this.seams.random(4)) & BigInt(COUNTER_INIT_MASK),
        });
        this.events.push("established");
    }

    /** FAILED for good; tell the peer (StatusReport FAILURE / InvalidParameter, with R)
     * when it can be addressed and did not fail first. */
    fail(error, now, report = true) {
        if (this.state === "FAILED") return;
        const canAddress = this.role === "commissioner" || this.peerNodeId !== undefined;
        this.outstanding = undefined;
        if (report && canAddress && error.kind !== "peer-status") {
            const payload = this.m.SecureChannelStatusMessage.encode({
                generalStatus: GENERAL_FAILURE,
                protocolStatus: PROTOCOL_INVALID_PARAMETER,
            });
            this.send(this.T.StatusReport, payload, now, { record: false });
        } else if (this.pendingAck !== undefined && canAddress) {
            this.sendAck(this.pendingAck, now);
        }
        this.pendingAck = undefined;
        this.state = "FAILED";
        this.failure = error;
        this.events.push("failed");
    }

    statusReport(payload) {
        const report = decoding("StatusReport", () => this.m.SecureChannelStatusMessage.decode(payload));
        if (report.generalStatus !== GENERAL_SUCCESS) {
            throw new CoreError(
                "peer-status",
                `peer reported failure in state ${this.state}: general code ${report.generalStatus}, protocol code 0x${report.protocolStatus.toString(16).padStart(4, "0")}`,
                { generalCode: report.generalStatus, protocolCode: report.protocolStatus },
            );
        }
        if (report.protocolId !== this.m.SECURE_CHANNEL_PROTOCOL_ID || report.protocolStatus !== PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS) {
            throw protocolError(
                `malformed success StatusReport: protocol id ${report.protocolId}, protocol code ${report.protocolStatus}`,
            );
        }
    }

    drawScalar() {
        const n = this.m.ec.p256.Point.CURVE().n;
        for (;;) {
            const value = this.m.Bytes.asBigInt(this.seams.random(32));
            if (value >= 1n && value < n) return value;
        }
    }

    drawSessionId() {
        for (;;) {
            const value = Number(littleEndian(this.seams.random(2)));
            if (value !== 0) return value;
        }
    }

    context(requestPayload, responsePayload) {
        // Section 4.14.1.2: Context = SHA-256("CHIP PAKE V1 Commissioning" || request || response).
        return this.crypto.computeHash([this.m.SPAKE_CONTEXT, requestPayload, responsePayload]);
    }
}

export class Commissioner extends PaseSession {
    constructor(m, crypto, seams, passcode, now) {
        validatePasscode(passcode);
        super(m, crypto, seams, "commissioner", now);
        this.passcode = passcode;
        this.nodeId = littleEndian(seams.random(8));
        this.exchangeId = Number(littleEndian(seams.random(2)));
        this.localSessionId = this.drawSessionId();
    }

    start(now) {
        this.startedAt = now;
        this.initiatorRandom = this.seams.random(32);
        this.requestPayload = this.m.TlvPbkdfParamRequest.encode({
            initiatorRandom: this.initiatorRandom,
            initiatorSessionId: this.localSessionId,
            passcodeId: 0,
            hasPbkdfParameters: false,
            initiatorSessionParams: LOCAL_SESSION_PARAMETERS,
        });
        this.state = "EXPECT_PBKDF_PARAM_RESPONSE";
        this.send(this.T.PbkdfParamRequest, this.requestPayload, now);
    }

    async handle(opcode, payload, next, now) {
        const { T, m } = this;
        if (opcode === T.StatusReport) {
            this.statusReport(payload);
            if (this.state !== "EXPECT_STATUS_REPORT") {
                throw protocolError("success StatusReport before the handshake finished");
            }
            this.outstanding = undefined;
            this.establish(this.ke);
            return;
        }
        if (opcode === T.PbkdfParamResponse) {
            const response = decoding("PBKDFParamResponse", () => m.TlvPbkdfParamResponse.decode(payload));
            if (!equalBytes(response.initiatorRandom, this.initiatorRandom)) {
                throw protocolError("PBKDFParamResponse does not echo our initiator random");
            }
            if (response.responderSessionId === 0) throw protocolError("responder session id 0 is reserved");
            const params = response.pbkdfParameters;
            if (params === undefined) throw protocolError("PBKDFParamResponse lacks the PBKDF parameters we asked for");
            try {
                validatePbkdf(params.salt, params.iterations);
            } catch (error) {
                throw protocolError(`peer sent ${error.message}`);
            }
            this.peerSessionId = response.responderSessionId;
            this.peerTiming = { ...LOCAL_SESSION_PARAMETERS, ...(response.responderSessionParams ?? {}) };
            const context = this.context(this.requestPayload, payload);
            const { w0, w1 } = await m.Spake2p.computeW0W1(this.crypto, params, this.passcode);
            this.w1 = w1;
            this.spake = new m.Spake2p(this.crypto, context, this.drawScalar(), w0);
            this.X = this.spake.computeX();
            this.send(T.PasePake1, m.TlvPasePake1.encode({ x: this.X }), now);
        } else if (opcode === T.PasePake2) {
            const pake2 = decoding("Pake2", () => m.TlvPasePake2.decode(payload));
            let result;
            try {
                result = await this.spake.computeSecretAndVerifiersFromY(this.w1, this.X, pake2.y);
            } catch (error) {
                throw cryptoError(`Pake2's pB is not usable: ${error.message}`);
            }
            if (!equalBytes(result.hBX, pake2.verifier)) {
                throw confirmationFailed(
                    "key confirmation failed: the commissionee's cB does not verify (the passcodes differ)",
                );
            }
            this.ke = result.Ke;
            this.send(T.PasePake3, m.TlvPasePake3.encode({ verifier: result.hAY }), now);
        }
        this.state = next;
    }
}

export class Commissionee extends PaseSession {
    constructor(m, crypto, seams, verifier, salt, iterations, now) {
        validatePbkdf(salt, iterations);
        if (verifier.length !== 97) {
            throw invalidArgument(`verifier is ${verifier.length} bytes, expected 97 (w0 || L)`);
        }
        const w0 = m.Bytes.asBigInt(verifier.slice(0, 32));
        const L = verifier.slice(32);
        if (w0 === 0n || w0 >= m.ec.p256.Point.CURVE().n) throw invalidArgument("verifier w0 is not a scalar mod n");
        try {
            m.ec.p256.Point.fromBytes(L).assertValidity();
        } catch (error) {
            throw invalidArgument(`verifier L is not a P-256 point: ${error.message}`);
        }
        super(m, crypto, seams, "commissionee", now);
        this.w0 = w0;
        this.L = L;
        this.salt = salt;
        this.iterations = iterations;
    }

    start(now) {
        this.startedAt = now;
        this.state = "EXPECT_PBKDF_PARAM_REQUEST";
    }

    /** A PBKDFParamRequest opens the exchange only when it decodes and follows the rules;
     * otherwise the device keeps waiting (as CHIP re-arms its PASE listener). */
    openExchange(header, payloadHeader, payload) {
        if (header.sourceNodeId === undefined) return false;
        let request;
        try {
            request = this.m.TlvPbkdfParamRequest.decode(payload);
        } catch {
            return false;
        }
        if (request.passcodeId !== 0 || request.initiatorSessionId === 0) return false;
        this.request = request;
        this.exchangeId = payloadHeader.exchangeId;
        this.peerNodeId = BigInt(header.sourceNodeId);
        return true;
    }

    async handle(opcode, payload, next, now) {
        const { T, m } = this;
        if (opcode === T.StatusReport) {
            this.statusReport(payload);
            throw protocolError("success StatusReport before the handshake finished");
        }
        if (opcode === T.PbkdfParamRequest) {
            this.startedAt = now;
            const request = this.request;
            this.peerSessionId = request.initiatorSessionId;
            this.peerTiming = { ...LOCAL_SESSION_PARAMETERS, ...(request.initiatorSessionParams ?? {}) };
            const responderRandom = this.seams.random(32);
            this.localSessionId = this.drawSessionId();
            const responsePayload = m.TlvPbkdfParamResponse.encode({
                initiatorRandom: request.initiatorRandom,
                responderRandom,
                responderSessionId: this.localSessionId,
                pbkdfParameters: request.hasPbkdfParameters
                    ? undefined
                    : { iterations: this.iterations, salt: this.salt },
                responderSessionParams: LOCAL_SESSION_PARAMETERS,
            });
            this.contextHash = this.context(payload, responsePayload);
            this.send(T.PbkdfParamResponse, responsePayload, now);
        } else if (opcode === T.PasePake1) {
            const pake1 = decoding("Pake1", () => m.TlvPasePake1.decode(payload));
            this.spake = new m.Spake2p(this.crypto, this.contextHash, this.drawScalar(), this.w0);
            const Y = this.spake.computeY();
            let result;
            try {
                result = await this.spake.computeSecretAndVerifiersFromX(this.L, pake1.x, Y);
            } catch (error) {
                throw cryptoError(`Pake1's pA is not usable: ${error.message}`);
            }
            this.expectedCa = result.hAY;
            this.ke = result.Ke;
            this.send(T.PasePake2, m.TlvPasePake2.encode({ y: Y, verifier: result.hBX }), now);
        } else if (opcode === T.PasePake3) {
            const pake3 = decoding("Pake3", () => m.TlvPasePake3.decode(payload));
            if (!equalBytes(pake3.verifier, this.expectedCa)) {
                throw confirmationFailed(
                    "key confirmation failed: the commissioner's cA does not verify (the passcodes differ)",
                );
            }
            const report = m.SecureChannelStatusMessage.encode({
                generalStatus: GENERAL_SUCCESS,
                protocolStatus: PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS,
            });
            this.send(T.StatusReport, report, now);
            this.establish(this.ke);
            return;
        }
        this.state = next;
    }
}

/** The established session: AES-CCM sealing and opening (section 4.7). The keys never
 * leave this object. */
export class SecureChannel {
    constructor(m, crypto, { initiator, encryptKey, decryptKey, localSessionId, peerSessionId, counter }) {
        this.m = m;
        this.crypto = crypto;
        this.initiator = initiator;
        this.encryptKey = encryptKey;
        this.decryptKey = decryptKey;
        this.localSessionId = localSessionId;
        this.peerSessionId = peerSessionId;
        this.counter = counter;
        this.highestReceived = undefined;
    }

    seal(protocolId, opcode, payload, exchangeId, { initiator = true, ackedMessageId, requiresAck = false } = {}) {
        const { MessageCodec, Session } = this.m;
        if (this.counter > 0xffffffffn) {
            throw new CoreError("invalid-argument", "message counter exhausted: establish a new session");
        }
        const counter = Number(this.counter);
        this.counter += 1n;
        const packetHeader = { sessionId: this.peerSessionId, sessionType: 0, messageId: counter, hasPrivacyEnhancements: false };
        const payloadHeader = { exchangeId, protocolId, messageType: opcode, isInitiatorMessage: initiator, requiresAck, ackedMessageId };
        const { applicationPayload } = MessageCodec.encodePayload({ packetHeader, payloadHeader, payload });
        const headerBytes = MessageCodec.encodePacketHeader(packetHeader);
        // PASE sessions put the unspecified node id (0) in the nonce (section 4.7.2.1).
        const nonce = Session.generateNonce(headerBytes[3], counter, 0n);
        const sealed = this.crypto.encrypt(this.encryptKey, applicationPayload, nonce, headerBytes);
        this.lastCounter = counter;
        return this.m.Bytes.concat(headerBytes, sealed);
    }

    /** Authenticate and decrypt; a counter at or below the highest seen is a duplicate
     * (decided after authentication, so a forged header cannot make us ack anything). */
    open(datagram) {
        const { MessageCodec, Session } = this.m;
        const packet = decoding("secured message", () => MessageCodec.decodePacket(datagram));
        const header = packet.header;
        if (header.sessionId !== this.localSessionId) {
            throw protocolError(`message for session ${header.sessionId}, ours is ${this.localSessionId}`);
        }
        const aad = datagram.slice(0, datagram.length - packet.applicationPayload.length);
        const nonce = Session.generateNonce(header.securityFlags, header.messageId, 0n);
        let plaintext;
        try {
            plaintext = this.crypto.decrypt(this.decryptKey, packet.applicationPayload, nonce, aad);
        } catch {
            throw cryptoError("secured message failed authentication (MIC mismatch)");
        }
        let message;
        try {
            message = MessageCodec.decodePayload({ header, applicationPayload: plaintext });
        } catch (error) {
            throw decodeError(`secured message has a bad protocol header: ${error.message}`);
        }
        const counter = header.messageId;
        const duplicate = this.highestReceived !== undefined && counter <= this.highestReceived;
        if (!duplicate) this.highestReceived = counter;
        return { message, counter, duplicate };
    }
}

export function asCoreError(error) {
    return error instanceof CoreError ? error : new CoreError("internal", `${error?.constructor?.name ?? "Error"}: ${error?.message ?? error}`);
}

export { MAX_DATAGRAMS_PER_POLL, MAX_SECURED_BACKLOG, MAX_EVENTS, wrongState };
