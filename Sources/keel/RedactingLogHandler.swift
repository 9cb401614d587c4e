import KeelCore
import Logging
import Synchronization

/// A log handler that redacts every message and metadata value (with ``CLI/redactor``) before
/// the handler it wraps writes them: a secret in an error or a URL never reaches the log.
struct RedactingLogHandler: LogHandler {
    private var wrapped: any LogHandler

    init(_ wrapped: any LogHandler) {
        self.wrapped = wrapped
    }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = "\(CLI.redact(event.message.description))"
        event.metadata = event.metadata.map { Self.redacted($0) }
        event.error = event.error.map { error in CLI.redactor.withLock { $0.scrub(error) } }
        wrapped.log(event: event)
    }

    private static func redacted(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.mapValues(redacted)
    }

    private static func redacted(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): .string(CLI.redact(text))
        case .stringConvertible(let convertible): .string(CLI.redact(convertible.description))
        case .dictionary(let dictionary): .dictionary(redacted(dictionary))
        case .array(let array): .array(array.map(redacted))
        }
    }
}
