import Foundation
public import KeelCore
public import KeelStore

/// Tells a person when an item goes to `needs_human`: through the configured alert channels
/// (Telegram, Slack, email, webhook), with the reason, the figures and a link to the item's page.
///
/// Durable: each move to `needs_human` is notified once, recorded in `escalation_notices`, so a
/// restart neither loses nor repeats a notification, and a move a person already answered is not
/// announced late. A notification no channel accepted is tried again at the next tick.
///
/// ```swift
/// let notifier = EscalationNotifier(store: store, alerts: dispatcher, publicURL: "https://keel.example.com")
/// try await notifier.notifyPending()   // from `keel run`'s ticker
/// ```
public struct EscalationNotifier: Sendable {
    let store: any Store
    let alerts: AlertDispatcher?
    let publicURL: PublicURL
    let clock: any WallClock
    let events: PipelineEventSink

    /// Links to `publicURL`'s current base (which follows the port `keel run` really listens on).
    public init(
        store: any Store, alerts: AlertDispatcher?, publicURL: PublicURL, clock: any WallClock = SystemWallClock(),
        events: PipelineEventSink = .none
    ) {
        self.store = store
        self.alerts = alerts
        self.publicURL = publicURL
        self.clock = clock
        self.events = events
    }

    /// Links to the fixed base `publicURL`.
    public init(
        store: any Store, alerts: AlertDispatcher?, publicURL: String, clock: any WallClock = SystemWallClock(),
        events: PipelineEventSink = .none
    ) {
        self.init(store: store, alerts: alerts, publicURL: PublicURL(fixed: publicURL), clock: clock, events: events)
    }

    /// Sends every pending escalation; returns how many were delivered.
    @discardableResult
    public func notifyPending() async throws -> Int {
        var delivered = 0
        for escalation in try await store.pendingEscalations(limit: 50, now: clock.now()) {
            guard let alerts else {
                // No channel configured: `keel status` and the item's page show it.
                try await store.recordEscalationNotice(transitionID: escalation.transitionID, outcome: "no_channel", channels: [], now: clock.now())
                continue
            }
            let failure = ItemDetail.Failure.latest(in: try await store.history(of: escalation.item.id))
            let results = await alerts.dispatch(alert(for: escalation, failure: failure))
            let accepted = results.filter(\.isDelivered).map(\.channel)
            for failure in results where !failure.isDelivered {
                events.emit(
                    .warning(
                        itemID: escalation.item.id,
                        message: "needs_human alert for #\(escalation.item.id) via \(failure.channel) failed: \(failure.error.map { "\($0)" } ?? "unknown")",
                        at: clock.now()))
            }
            if !accepted.isEmpty {
                try await store.recordEscalationNotice(
                    transitionID: escalation.transitionID, outcome: "delivered", channels: accepted, now: clock.now())
                delivered += 1
            } else {
                try await store.releaseEscalation(transitionID: escalation.transitionID)
            }
        }
        return delivered
    }

    /// What a person receives: the reason, the evidence of the last failure, what to answer, the
    /// figures and the item's page.
    public func alert(for e: Escalation, failure: ItemDetail.Failure? = nil) -> Alert {
        let id = e.item.id
        let evidence = failure.map(\.evidence).flatMap { $0.isEmpty ? nil : "\n\nEvidence:\n\($0)" } ?? ""
        return Alert(
            id: "needs-human-\(e.transitionID)",
            event: "needs_human",
            title: "Keel: #\(id) needs a person: \(e.item.title)",
            body: """
                \(e.reason)\(evidence)

                Answer with one of:
                  keel retry \(id)         another attempt, with the history of this one
                  keel reimplement \(id)   start over from a fresh branch, with the history
                  keel cancel \(id)        drop it
                """,
            link: "\(publicURL.current)/items/\(id)",
            severity: .warning,
            fields: [
                ("item", "#\(id)"), ("repo", e.item.repo), ("tenant", e.item.tenant), ("attempts", String(e.item.attempt)),
                ("spent", Money.format(e.figures.costMicros)), ("agent runs", String(e.figures.agentRuns)),
                ("agent time", String(format: "%.0f s", e.figures.agentSeconds)), ("signature", e.signature ?? "none"),
                ("since", Timestamp.text(e.at)),
            ])
    }
}
