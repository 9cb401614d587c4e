import Foundation
import KeelCore

/// The files an agent reads: the task, the history of earlier attempts, and the prompt that points at both.
struct TaskBrief {
    var task: String
    var history: String
    var prompt: String

    init(
        item: WorkItem, project: String, history entries: [HistoryEntry], taskPath: String, historyPath: String, claimsPath: String? = nil
    ) {
        var task = "# #\(item.id): \(item.title)\n\n\(item.body)\n"
        if let acceptance = item.acceptance, !acceptance.isEmpty {
            task += "\n## Acceptance criteria\n\n\(acceptance)\n"
        }
        self.task = task
        self.history = Self.renderHistory(entries, itemID: item.id)
        var prompt = """
            You are working on issue #\(item.id) of \(project): \(item.title)

            The full task is in \(taskPath). Work in the current directory, a git clone on its own branch. \
            Make the change and run the project's tests; do not push or merge: Keel commits, pushes, runs CI and merges.

            """
        if entries.isEmpty {
            prompt += "This is the first attempt (attempt \(item.attempt)).\n"
        } else {
            prompt += """
                This is attempt \(item.attempt). Earlier attempts, what they did and why they failed are in \(historyPath) \
                (\(entries.count) entries). Read it first and do not repeat what failed.

                """
            if let decision = entries.last(where: { $0.kind == HistoryEntry.retryKind || $0.kind == HistoryEntry.reimplementKind }),
                decision.kind == HistoryEntry.reimplementKind
            {
                prompt += """

                    A person asked to start over: the approach of the earlier attempts did not work. Implement the issue \
                    afresh on this new branch; use the history only to avoid what failed (\(decision.summary)).

                    """
            }
            if let last = entries.last(where: { $0.kind == "failure" }), last.signature?.hasPrefix("review:") == true {
                prompt += "\nThe reviewer sent the last attempt back with these items:\n\n\(last.detail)\n"
                if let claimsPath {
                    prompt += """

                        When you have addressed them, write \(claimsPath) (also in $KEEL_CLAIMS_FILE) as
                        {"addressed": [{"item": "<the item>", "files": [{"path": "<file you changed>", "sha256": "<its SHA-256, optional>"}]}]}
                        Keel checks every claim against the files on disk: a file that does not exist or did not change is rejected.

                        """
                }
            }
        }
        prompt += "\n" + task
        self.prompt = prompt
    }

    static func renderHistory(_ entries: [HistoryEntry], itemID: Int64) -> String {
        var text = "# History of item #\(itemID)\n\n"
        if entries.isEmpty {
            return text + "No earlier attempts.\n"
        }
        for entry in entries {
            let heading: String =
                switch entry.kind {
                case "attempt": "what the attempt did"
                case "failure": "failed in \(entry.stage)"
                case HistoryEntry.retryKind: "a person sent it back"
                case HistoryEntry.reimplementKind: "a person asked to start over"
                default: "\(entry.kind) in \(entry.stage)"
                }
            text += "## Attempt \(entry.attempt): \(heading)\n\n\(entry.summary)\n"
            if let signature = entry.signature { text += "\nFailure signature: `\(signature)`\n" }
            if !entry.detail.isEmpty {
                text += "\n```\n\(entry.detail)\n```\n"
            }
            text += "\n"
        }
        return text
    }
}

extension HistoryEntry {
    /// The kind of the entry `keel retry` writes.
    static let retryKind = "human_retry"
    /// The kind of the entry `keel reimplement` writes.
    static let reimplementKind = "human_reimplement"

    /// The entries after a person's last decision (retry or reimplement): what the circuit
    /// breaker counts, so a person's answer gives the item a fresh set of tries.
    static func sinceLastHumanDecision(_ history: [HistoryEntry]) -> [HistoryEntry] {
        guard let last = history.lastIndex(where: { $0.kind == retryKind || $0.kind == reimplementKind }) else { return history }
        return Array(history[(last + 1)...])
    }
}
