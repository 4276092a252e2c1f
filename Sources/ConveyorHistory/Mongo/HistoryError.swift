import CMongoc

/// An error from MongoDB or from this layer: libmongoc's domain, code and message.
///
/// With error API version 2 (set on every pool), an error the server returned has domain
/// `HistoryError.serverDomain` and the server's code (11000 = duplicate key, 26 = namespace not
/// found); network trouble has `streamDomain` or `serverSelectionDomain`. Errors raised by this
/// layer itself use `conveyorDomain`. New codes can appear without breaking callers.
public struct HistoryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// libmongoc's error domain (`mongoc_error_domain_t`), or `conveyorDomain`.
    public var domain: UInt32
    /// The error code within the domain (a server code for `serverDomain`).
    public var code: UInt32
    public var message: String
    /// The individual write errors of a bulk write that failed because of them.
    public var writeErrors: [WriteError]

    public init(domain: UInt32, code: UInt32, message: String, writeErrors: [WriteError] = []) {
        self.domain = domain
        self.code = code
        self.message = message
        self.writeErrors = writeErrors
    }

    /// Copies a libmongoc `bson_error_t`.
    init(_ error: bson_error_t) {
        var error = error
        self.init(domain: error.domain, code: error.code, message: String(cString: conveyor_bson_error_message(&error)))
    }

    public var description: String {
        var text = "MongoDB error \(domain).\(code): \(message)"
        if !writeErrors.isEmpty { text += " (" + writeErrors.map(\.description).joined(separator: "; ") + ")" }
        return text
    }

    /// The server refused a write because a unique index already holds the key (code 11000).
    public var isDuplicateKey: Bool {
        (domain == Self.serverDomain || domain == Self.commandDomain) && code == Self.duplicateKeyCode
            || (!writeErrors.isEmpty && writeErrors.allSatisfy(\.isDuplicateKey))
    }

    /// The server could not be reached (connection refused or dropped, no server selectable).
    public var isNetwork: Bool { domain == Self.streamDomain || domain == Self.serverSelectionDomain }

    /// MongoDB is unavailable for now (unreachable, or this client is closed): worth retrying later, as
    /// opposed to an error in the request itself, which fails the same way every time.
    public var isUnavailable: Bool { isNetwork || (domain == Self.conveyorDomain && code == Self.closedCode) }

    /// The documents themselves were refused, so writing them again cannot succeed: libbson or
    /// libmongoc rejected them before sending (`invalid document for insert: empty key`, a key with
    /// NUL), or the server answered with per-document write errors other than duplicate keys (and no
    /// write-concern error). Network trouble and server-wide errors are not refusals.
    public var isRefusal: Bool {
        switch domain {
        case Self.conveyorDomain: return code == Self.invalidBSONCode || code == Self.invalidJSONCode
        case MONGOC_ERROR_BSON.rawValue: return true
        case Self.commandDomain where code == MONGOC_ERROR_COMMAND_INVALID_ARG.rawValue: return true
        default: return !writeErrors.isEmpty && writeErrors.contains { !$0.isDuplicateKey }
        }
    }

    // Domains (mongoc_error_domain_t values, plus ours).
    public static let streamDomain = MONGOC_ERROR_STREAM.rawValue
    public static let commandDomain = MONGOC_ERROR_COMMAND.rawValue
    public static let serverSelectionDomain = MONGOC_ERROR_SERVER_SELECTION.rawValue
    public static let serverDomain = MONGOC_ERROR_SERVER.rawValue
    public static let writeConcernDomain = MONGOC_ERROR_WRITE_CONCERN.rawValue
    /// Errors raised by ConveyorHistory itself (bad URL, bad BSON or JSON, closed client).
    public static let conveyorDomain: UInt32 = 1000

    // Codes in `conveyorDomain`.
    public static let closedCode: UInt32 = 1
    public static let invalidURLCode: UInt32 = 2
    public static let invalidBSONCode: UInt32 = 3
    public static let invalidJSONCode: UInt32 = 4

    /// The server's duplicate-key code.
    public static let duplicateKeyCode: UInt32 = 11000
    /// The server's "namespace not found" code (dropping a collection that does not exist).
    public static let namespaceNotFoundCode: UInt32 = 26

    static func closed() -> HistoryError { HistoryError(domain: conveyorDomain, code: closedCode, message: "the MongoDB client is closed") }
    static func invalidBSON(_ message: String) -> HistoryError {
        HistoryError(domain: conveyorDomain, code: invalidBSONCode, message: message)
    }
    static func invalidJSON(_ message: String) -> HistoryError {
        HistoryError(domain: conveyorDomain, code: invalidJSONCode, message: message)
    }
}

/// One failed write of a bulk write: its index in the request, the server's code and message.
public struct WriteError: Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var code: Int
    public var message: String

    public init(index: Int, code: Int, message: String) {
        self.index = index
        self.code = code
        self.message = message
    }

    /// The write hit a unique index (code 11000): for an insert of a redelivered event, harmless.
    public var isDuplicateKey: Bool { code == Int(HistoryError.duplicateKeyCode) }

    public var description: String { "#\(index) \(code): \(message)" }
}
