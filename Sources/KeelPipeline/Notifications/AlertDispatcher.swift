public import KeelCore
public import Logging

/// Sends one alert to every configured channel at once, retrying transient failures a bounded
/// number of times, and reports what happened on each. It never throws: a channel that is down
/// does not keep the alert from the others.
///
/// ```swift
/// let dispatcher = AlertDispatcher(channels: [telegram, slack, email])
/// for delivery in await dispatcher.dispatch(alert) where !delivery.isDelivered {
///     logger.error("alert not delivered", metadata: ["channel": "\(delivery.channel)"])
/// }
/// ```
public struct AlertDispatcher: Sendable {
    /// How often and how long to retry a channel whose failure is transient.
    public struct RetryPolicy: Sendable {
        /// Attempts per channel, the first included (1 = no retry).
        public var maxAttempts: Int
        /// The delay before each retry when the peer did not say how long to wait.
        public var backoff: Backoff
        /// The longest wait honoured when a peer asks for one (`retry_after`, `Retry-After`);
        /// a longer one ends the retries, since the alert would arrive too late to matter.
        public var maxWait: Duration

        /// Creates a policy.
        public init(maxAttempts: Int, backoff: Backoff, maxWait: Duration) {
            self.maxAttempts = max(1, maxAttempts)
            self.backoff = backoff
            self.maxWait = maxWait
        }

        /// Three attempts, 2 s then 4 s (less up to 50 % jitter), waits of up to a minute.
        public static let standard = RetryPolicy(
            maxAttempts: 3,
            backoff: Backoff(initialSeconds: 2, maxSeconds: 30, jitter: 0.5),
            maxWait: .seconds(60)
        )
    }

    /// What happened on one channel.
    public struct Delivery: Sendable {
        /// The channel's name.
        public var channel: String
        /// How many times the alert was sent to it.
        public var attempts: Int
        /// The last failure; nil when the alert was delivered.
        public var error: AlertError?

        /// True when the channel accepted the alert.
        public var isDelivered: Bool { error == nil }
    }

    private let channels: [any AlertChannel]
    private let retry: RetryPolicy
    private let clock: any Clock<Duration>
    private let random: @Sendable () -> Double
    private let logger: Logger
    private let redactor: SecretRedactor

    /// Creates a dispatcher.
    ///
    /// - Parameters:
    ///   - channels: Where alerts go.
    ///   - retry: Retries for transient failures; tests use millisecond delays.
    ///   - clock: What retries wait on.
    ///   - random: The jitter source, values in 0..<1.
    ///   - logger: Where failed attempts are logged (never with a secret: channel errors are redacted).
    ///   - redactor: Applied to every alert's texts before any channel sees them (credential
    ///     shapes always; `KeelConfig.redactor(environment:)` adds the configured secrets).
    public init(
        channels: [any AlertChannel],
        retry: RetryPolicy = .standard,
        clock: any Clock<Duration> = ContinuousClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        logger: Logger = Logger(label: "keel.alerts"),
        redactor: SecretRedactor = SecretRedactor()
    ) {
        self.redactor = redactor
        self.channels = channels
        self.retry = retry
        self.clock = clock
        self.random = random
        self.logger = logger
    }

    /// Sends the alert to every channel concurrently; one ``Delivery`` per channel, in the
    /// order the channels were given.
    public func dispatch(_ alert: Alert) async -> [Delivery] {
        let alert = alert.redacted(by: redactor)
        return await withTaskGroup(of: (Int, Delivery).self) { group in
            for (index, channel) in channels.enumerated() {
                group.addTask { (index, await deliver(alert, to: channel)) }
            }
            var deliveries: [Delivery?] = Array(repeating: nil, count: channels.count)
            for await (index, delivery) in group {
                deliveries[index] = delivery
            }
            return deliveries.compactMap { $0 }
        }
    }

    private func deliver(_ alert: Alert, to channel: any AlertChannel) async -> Delivery {
        var attempt = 1
        while true {
            let error: AlertError
            do {
                try await channel.send(alert)
                return Delivery(channel: channel.name, attempts: attempt, error: nil)
            } catch let alertError as AlertError {
                error = alertError
            } catch is CancellationError {
                return Delivery(channel: channel.name, attempts: attempt, error: Self.cancelled(channel))
            } catch let other {
                // Not classified by the channel: when in doubt, transient.
                error = AlertError(code: .failed, message: "\(channel.name): \(other)", errorClass: .transient, cause: other)
            }

            var metadata: Logger.Metadata = [
                "channel": "\(channel.name)", "alert": "\(alert.id)", "attempt": "\(attempt)", "code": "\(error.code)",
            ]
            guard error.isRetryable, attempt < retry.maxAttempts else {
                logger.error("alert not delivered: \(error.message)", metadata: metadata)
                return Delivery(channel: channel.name, attempts: attempt, error: error)
            }
            let delay = error.retryAfter ?? .seconds(retry.backoff.delay(forFailure: attempt, random: random()))
            if delay > retry.maxWait {
                logger.error(
                    "alert not delivered: \(error.message); the peer asks to wait \(delay), longer than the \(retry.maxWait) allowed",
                    metadata: metadata
                )
                return Delivery(channel: channel.name, attempts: attempt, error: error)
            }
            metadata["retry_in"] = "\(delay)"
            logger.warning("alert attempt failed, retrying: \(error.message)", metadata: metadata)
            do {
                try await clock.sleep(for: delay)
            } catch {
                return Delivery(channel: channel.name, attempts: attempt, error: Self.cancelled(channel))
            }
            attempt += 1
        }
    }

    private static func cancelled(_ channel: any AlertChannel) -> AlertError {
        AlertError(code: .failed, message: "\(channel.name): sending was cancelled (Keel is shutting down)", errorClass: .transient)
    }
}

extension Alert {
    /// The alert with its title, body, link and figures redacted.
    func redacted(by redactor: SecretRedactor) -> Alert {
        var alert = self
        alert.title = redactor(title)
        alert.body = redactor(body)
        alert.link = link.map(redactor.redact)
        alert.fields = fields.map { (key: $0.key, value: redactor($0.value)) }
        return alert
    }
}
