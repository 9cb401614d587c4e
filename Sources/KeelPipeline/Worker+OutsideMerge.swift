import Foundation
import KeelCore
import KeelForge
import KeelStore

extension Worker {
    /// Who a merge made outside Keel is recorded as, in `state_transitions.actor`.
    static let outsideMergeActor = "person:outside-keel"

    /// The item's pushed head is already in the base while the item waits for CI or review: a
    /// person merged it by hand or in the forge (field report 002's siloed integrations). Keel
    /// records that once, as theirs, keeps the item's runs and cost as they are, and merges
    /// nothing itself. `nil` when the base does not contain the head, or when the forge could not
    /// say (the stage then goes on as usual: this look must never stop the pipeline).
    func mergedOutsideKeel(_ item: WorkItem, _ lease: Lease, stage: String) async throws -> (WorkItem, Lease)? {
        guard let head = item.headSHA, let tip = await baseTip(containing: head, item: item) else { return nil }
        let base = env.forge.baseBranch
        let reason = "merged into \(base) outside Keel while the item was \(stage): \(base) at \(tip.prefix(7)) already contains "
            + "\(head.prefix(7)); recorded as a person's merge, Keel merged nothing"
        let now = env.clock.now()
        let from = lease.state
        let (moved, newLease) = try await store.transition(
            lease, on: .mergedOutside, reason: reason, actor: Self.outsideMergeActor, now: now, changes: ItemChanges(), keepLease: true)
        env.events.emit(.transition(item: moved, from: from, to: moved.state, reason: reason, actor: Self.outsideMergeActor, at: now))
        return (moved, newLease)
    }

    /// The base's tip when it contains `head`; a forge that cannot answer is logged, not fatal.
    func baseTip(containing head: String, item: WorkItem) async -> String? {
        do {
            return try await env.forge.baseContains(headSHA: head)
        } catch is CancellationError {
            return nil
        } catch {
            warn(item.id, "could not ask the forge whether \(env.forge.baseBranch) already contains #\(item.id)'s \(head.prefix(7)): \(error)")
            return nil
        }
    }
}
