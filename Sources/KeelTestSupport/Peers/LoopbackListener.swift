import NIOCore
import NIOPosix
import Synchronization

/// A TCP listener on 127.0.0.1 and a free port for the test peers (HTTP, SMTP): each accepted
/// connection gets the handler `makeHandler` builds, and ``stop()`` closes the listener and every
/// connection it accepted, so a peer never outlives its test.
final class LoopbackListener: Sendable {
    let port: Int
    private let channel: any Channel
    private let connections: Connections

    /// The accepted connections, shared with the bootstrap's initializer.
    private final class Connections: Sendable {
        let list = Mutex<[any Channel]>([])
    }

    private init(channel: any Channel, connections: Connections) {
        self.port = channel.localAddress?.port ?? 0
        self.channel = channel
        self.connections = connections
    }

    static func bind(_ makeHandler: @escaping @Sendable () -> any ChannelHandler) async throws -> LoopbackListener {
        let accepted = Connections()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.list.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(makeHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return LoopbackListener(channel: listener, connections: accepted)
    }

    func stop() async {
        try? await channel.close()
        for connection in connections.list.withLock({ $0 }) {
            try? await connection.close()
        }
    }

    /// Runs `body` with `server` and stops the listener however `body` ends.
    func serving<Server, Result>(_ server: Server, _ body: (Server) async throws -> Result) async throws -> Result {
        do {
            let result = try await body(server)
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }
}
