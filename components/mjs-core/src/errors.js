// Failures as values: every error the core reports crosses the seam as a WIT `core-error`
// (kind, message, and the StatusReport codes it maps to on the wire).

// StatusReport codes: Matter Core Specification 1.3, section 4.10.1.2 (GeneralCode
// FAILURE) and Appendix D.4 / section 4.11.1 (Secure Channel protocol codes).
export const GENERAL_SUCCESS = 0;
export const GENERAL_FAILURE = 1;
export const PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS = 0;
export const PROTOCOL_INVALID_PARAMETER = 2;

export class CoreError extends Error {
    constructor(kind, message, { generalCode = GENERAL_FAILURE, protocolCode = PROTOCOL_INVALID_PARAMETER } = {}) {
        super(message);
        this.kind = kind;
        this.generalCode = generalCode;
        this.protocolCode = protocolCode;
    }
}

export const invalidArgument = message => new CoreError("invalid-argument", message);
export const decodeError = message => new CoreError("decode", message);
export const protocolError = message => new CoreError("protocol", message);
export const confirmationFailed = message => new CoreError("confirmation-failed", message);
export const cryptoError = message => new CoreError("crypto", message);
export const wrongState = message => new CoreError("wrong-state", message);
export const timeoutError = message => new CoreError("timeout", message);
export const internalError = message => new CoreError("internal", message);

/** The WIT `core-error` record of any thrown value. */
export function errorRecord(error) {
    if (error instanceof CoreError) {
        return {
            kind: error.kind,
            message: error.message,
            generalCode: error.generalCode,
            protocolCode: error.protocolCode,
        };
    }
    const name = error?.constructor?.name ?? typeof error;
    return {
        kind: "internal",
        message: `${name}: ${error?.message ?? String(error)}`,
        generalCode: GENERAL_FAILURE,
        protocolCode: PROTOCOL_INVALID_PARAMETER,
    };
}

/** Decode with matter.js; any failure of the bytes is a `decode` error. */
export function decoding(what, decode) {
    try {
        return decode();
    } catch (error) {
        throw decodeError(`${what} does not decode: ${error?.message ?? error}`);
    }
}
