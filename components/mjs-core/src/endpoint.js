// The session-control export's behaviour: one PASE session at a time, fed by the seams.
//
// A received datagram whose header says it is secured never reaches the handshake: for our
// session id it waits (bounded) for open(), otherwise it is dropped (group, session-id).
// Everything else goes to the handshake, in two phases (accept, then handle) with the
// first phase's output (a standalone ack ahead of PBKDF2) on the wire before the second.

import { errorRecord, wrongState } from "./errors.js";
import {
    Commissionee,
    Commissioner,
    DROP_REASONS,
    MAX_DATAGRAMS_PER_POLL,
    MAX_EVENTS,
    MAX_SECURED_BACKLOG,
} from "./session.js";

export class Endpoint {
    constructor(lib, seams) {
        this.lib = lib; // () => { m, crypto }: matter.js, loaded on first use
        this.seams = seams;
        this.session = undefined;
        this.inbox = [];
        this.events = [];
        this.now = 0;
    }

    startCommissioner(passcode) {
        const { m, crypto } = this.lib();
        const now = this.seams.now();
        const session = new Commissioner(m, crypto, this.seams, passcode, now);
        this.begin(session, now);
        session.start(now);
        this.flush(session, now);
        return this.status();
    }

    startCommissionee(verifier, salt, iterations) {
        const { m, crypto } = this.lib();
        const now = this.seams.now();
        const session = new Commissionee(m, crypto, this.seams, verifier, salt, iterations, now);
        this.begin(session, now);
        session.start(now);
        return this.status();
    }

    async poll() {
        const session = this.requireSession();
        this.now = this.seams.now();
        for (let i = 0; i < MAX_DATAGRAMS_PER_POLL; i++) {
            const datagram = this.seams.receive();
            if (datagram === undefined) break;
            const route = this.route(session, datagram);
            if (route === "open") this.keepSecured(session, datagram);
            else if (route === "handshake") await this.receiveUnsecured(session, datagram);
        }
        session.handleTimer(this.now);
        this.flush(session, this.now);
        this.collectEvents(session);
        return this.status();
    }

    status() {
        const session = this.requireSession();
        const deadline = session.nextDeadline();
        return {
            role: session.role,
            state: session.state,
            established: session.state === "ESTABLISHED",
            localSessionId: session.localSessionId,
            peerSessionId: session.peerSessionId,
            transcriptHash: session.transcriptHash,
            nextDeadlineMs: deadline === undefined ? undefined : BigInt(deadline),
            failure: session.failure === undefined ? undefined : errorRecord(session.failure),
            datagramsSent: session.datagramsSent,
            datagramsReceived: session.datagramsReceived,
            dropped: DROP_REASONS.filter(reason => session.drops.get(reason)).map(reason => ({
                reason,
                count: session.drops.get(reason),
            })),
            retransmissions: session.retransmissions,
            acksSent: session.acksSent,
        };
    }

    seal(protocolId, opcode, payload) {
        const secure = this.requireSecure();
        const exchangeId = Number(this.lib().m.Bytes.asBigInt(this.seams.random(2).reverse()));
        const datagram = secure.seal(protocolId, opcode, payload, exchangeId);
        this.seams.send(datagram);
        return secure.lastCounter;
    }

    async open() {
        const session = this.requireSession();
        const secure = this.requireSecure();
        const T = this.lib().m.SecureMessageType;
        for (let i = 0; i < MAX_DATAGRAMS_PER_POLL + MAX_SECURED_BACKLOG; i++) {
            let datagram = this.inbox.shift();
            if (datagram === undefined) {
                datagram = this.seams.receive();
                if (datagram === undefined) return undefined;
                const route = this.route(session, datagram);
                if (route === "handshake") {
                    this.now = this.seams.now();
                    await this.receiveUnsecured(session, datagram);
                    this.collectEvents(session);
                }
                if (route !== "open") continue;
            }
            const { message, counter, duplicate } = secure.open(datagram);
            const { payloadHeader } = message;
            if (payloadHeader.protocolId === 0 && payloadHeader.messageType === T.StandaloneAck) {
                continue; // section 4.12.2.2: an ack only acknowledges, and is never acked
            }
            if (payloadHeader.requiresAck) {
                const ack = secure.seal(0, T.StandaloneAck, new Uint8Array(0), payloadHeader.exchangeId, {
                    initiator: !payloadHeader.isInitiatorMessage,
                    ackedMessageId: counter,
                });
                session.acksSent++;
                this.seams.send(ack);
            }
            if (duplicate) {
                session.countDrop("duplicate");
                continue;
            }
            this.pushEvent("message-opened");
            return {
                protocolId: payloadHeader.protocolId,
                opcode: payloadHeader.messageType,
                payload: message.payload,
                messageCounter: counter,
            };
        }
        return undefined;
    }

    takeEvents() {
        const events = this.events;
        this.events = [];
        return events;
    }

    begin(session, now) {
        this.session = session;
        this.inbox = [];
        this.events = [];
        this.now = now;
    }

    route(session, datagram) {
        let header;
        try {
            header = this.lib().m.MessageCodec.decodePacket(datagram).header;
        } catch {
            return "handshake";
        }
        if (header.sessionId === 0 && header.sessionType === 0) return "handshake";
        if (header.sessionType === 1 || header.destGroupId !== undefined) {
            session.countDrop("group");
        } else if (session.localSessionId === 0 || header.sessionId !== session.localSessionId) {
            session.countDrop("session-id");
        } else {
            return "open";
        }
        return "dropped";
    }

    async receiveUnsecured(session, datagram) {
        const delivery = session.accept(datagram, this.now);
        this.flush(session, this.now);
        if (delivery === undefined) return;
        await session.handleDelivery(delivery, this.now);
        // The handler may have spent long on PBKDF2 or P-256: the reply's retransmission
        // timer starts when it is actually sent.
        this.now = this.seams.now();
        this.flush(session, this.now);
    }

    keepSecured(session, datagram) {
        if (this.inbox.length < MAX_SECURED_BACKLOG) this.inbox.push(datagram);
        else session.countDrop("backlog-full");
    }

    pushEvent(kind) {
        if (this.events.length >= MAX_EVENTS) this.events.shift();
        this.events.push({ kind, atMs: BigInt(this.now) });
    }

    collectEvents(session) {
        for (const kind of session.events) this.pushEvent(kind);
        session.events = [];
    }

    flush(session, now) {
        for (const datagram of session.takeOutbox(now)) this.seams.send(datagram);
    }

    requireSession() {
        if (this.session === undefined) {
            throw wrongState("no PASE session: start one as commissioner or commissionee");
        }
        return this.session;
    }

    requireSecure() {
        const session = this.requireSession();
        if (session.secure === undefined) {
            throw wrongState(`no secure session yet (PASE state ${session.state})`);
        }
        return session.secure;
    }
}
