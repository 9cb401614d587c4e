import Synchronization

/// The base of the links in alerts (`/items/{id}`, `/breaks/{id}`): `server.public_url` when it is
/// set, else the address `keel run` really listens on, known only once the server is up (with
/// `--port 0`, the port it picked).
///
/// ```swift
/// let links = PublicURL(configured: config.server.publicURL, host: "127.0.0.1", port: 0)
/// links.serverListening(host: "127.0.0.1", port: 49152)
/// links.current   // http://127.0.0.1:49152
/// ```
public final class PublicURL: Sendable {
    // The address changes once, when the server starts, while the notifiers read it from their ticks.
    private let value: Mutex<(url: String, settled: Bool)>
    /// The URL written in the configuration, which the listening address never overrides.
    public let configured: String?

    /// Links to `configured`, or to `http://host:port` until the server says where it listens.
    public init(configured: String?, host: String, port: Int) {
        self.configured = configured
        value = Mutex((Self.resolve(configured: configured, host: host, port: port), configured != nil || port != 0))
    }

    /// Links always to `url`.
    public convenience init(fixed url: String) {
        self.init(configured: url, host: "", port: 0)
    }

    /// The base URL to link to now.
    public var current: String { value.withLock { $0.url } }

    /// False while the links would name port 0: no URL is configured and the server has not said
    /// which port it picked. Alerts wait for it.
    public var isSettled: Bool { value.withLock { $0.settled } }

    /// Records where the server listens: the links follow it unless a public URL is configured.
    public func serverListening(host: String, port: Int) {
        let resolved = Self.resolve(configured: configured, host: host, port: port)
        value.withLock { $0 = (resolved, true) }
    }

    /// The configured URL, else `http://host:port` (an IPv6 address in brackets).
    public static func resolve(configured: String?, host: String, port: Int) -> String {
        configured ?? KeelConfig.Alerts.listeningURL(host: host, port: port)
    }
}
