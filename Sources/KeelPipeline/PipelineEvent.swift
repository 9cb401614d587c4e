public import Foundation
public import KeelCore

/// Something the pipeline did that a person watching may want to see.
public enum PipelineEvent: Sendable {
    /// An item moved along the state machine.
    case transition(item: WorkItem, from: ItemState?, to: ItemState, reason: String, actor: String, at: Date)
    /// A stage hit a problem that did not change the item's state (lost lease, store error).
    case warning(itemID: Int64?, message: String, at: Date)
}

/// Where pipeline events go: the demo prints them, `keel run` logs them, tests collect them.
public struct PipelineEventSink: Sendable {
    let handler: @Sendable (PipelineEvent) -> Void

    public init(_ handler: @escaping @Sendable (PipelineEvent) -> Void) {
        self.handler = handler
    }

    public func emit(_ event: PipelineEvent) { handler(event) }

    /// Drops every event.
    public static let none = PipelineEventSink { _ in }
}

extension PipelineEvent {
    /// One line for a terminal: `10:04:05  #3 developing → pushing  committed 1a2b3c4 (worker-1)`.
    public var line: String {
        switch self {
        case .transition(let item, let from, let to, let reason, let actor, let at):
            let arrow = from.map { "\($0.rawValue) → \(to.rawValue)" } ?? "new → \(to.rawValue)"
            return "\(Self.clockText(at))  #\(item.id) \(arrow)  \(reason) [\(actor)]"
        case .warning(let itemID, let message, let at):
            return "\(Self.clockText(at))  \(itemID.map { "#\($0) " } ?? "")warning: \(message)"
        }
    }

    static func clockText(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        let c = calendar.dateComponents([.hour, .minute, .second], from: date)
        func two(_ n: Int?) -> String { let v = n ?? 0; return v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(c.hour)):\(two(c.minute)):\(two(c.second))"
    }
}
