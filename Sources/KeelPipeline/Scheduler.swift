import Foundation
import KeelCore
import KeelStore
public import ServiceLifecycle

/// The resident scheduler: a pool of workers that claim ready items, plus the promotion of items
/// whose dependencies merged. Runs as a `Service` in `keel run`, or until every item is settled
/// (merged or waiting for a person) in `keel demo`.
public final class Scheduler: Service, Sendable {
    let env: PipelineEnvironment
    let workerNames: [String]

    public init(environment: PipelineEnvironment) {
        env = environment
        let pid = ProcessInfo.processInfo.processIdentifier
        workerNames = (1...max(1, environment.config.scheduler.workers)).map { "worker-\($0)@\(pid)" }
    }

    /// Runs until cancelled or a graceful shutdown: stops claiming, lets running stages reach a
    /// resting state (a running agent is stopped and its item re-queued), then returns.
    public func run() async throws {
        await loop(untilSettled: false)
    }

    /// Runs until no item can move without a person.
    public func runUntilSettled() async throws {
        await loop(untilSettled: true)
    }

    func loop(untilSettled: Bool) async {
        await withTaskGroup(of: Void.self) { group in
            for name in workerNames {
                group.addTask { await self.workerLoop(Worker(name: name, env: self.env), untilSettled: untilSettled) }
            }
        }
    }

    func workerLoop(_ worker: Worker, untilSettled: Bool) async {
        let poll = Duration.milliseconds(env.config.scheduler.pollMilliseconds)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await promote()
                if try await worker.step() { continue }
                if untilSettled, try await settled() { return }
            } catch {
                worker.warn(nil, "\(worker.name): \(error)")
            }
            try? await Task.sleep(for: poll)
        }
    }

    func promote() async throws {
        let now = env.clock.now()
        for item in try await env.store.promoteUnblocked(now: now) {
            let reason = try await env.store.transitions(of: item.id).last?.reason ?? "dependencies merged"
            env.events.emit(.transition(item: item, from: .blocked, to: item.state, reason: reason, actor: "scheduler", at: now))
        }
    }

    /// True when no item can move without a person: every item is merged, cancelled, waiting for
    /// a person, or blocked behind one that is.
    public func settled() async throws -> Bool {
        try Self.isSettled(try await env.store.items())
    }

    static func isSettled(_ items: [WorkItem]) throws -> Bool {
        let byID = Dictionary(uniqueKeysWithValues: items.map { ($0.id, $0) })
        var memo: [Int64: Bool] = [:]
        func movable(_ item: WorkItem) -> Bool {
            if let known = memo[item.id] { return known }
            memo[item.id] = false
            let result: Bool
            switch item.state {
            case .merged, .cancelled, .needsHuman, .failed: result = false
            case .blocked:
                result = item.dependsOn.contains { dep in
                    guard let d = byID[dep] else { return false }
                    return d.state == .merged || movable(d)
                }
            default: result = true
            }
            memo[item.id] = result
            return result
        }
        return !items.contains(where: movable)
    }
}
