import Foundation
import KeelCore

/// The files an agent reads: the task, the history of earlier attempts, and the prompt that points at both.
struct TaskBrief {
    var task: String
    var history: String
    var prompt: String

    init(item: WorkItem, project: String, history entries: [HistoryEntry], taskPath: String, historyPath: String) {
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
                This is attempt \(item.attempt). Earlier attempts and why they failed are in \(historyPath) \
                (\(entries.count) entries). Read it first and do not repeat what failed.

                """
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
            text += "## Attempt \(entry.attempt): \(entry.kind) in \(entry.stage)\n\n\(entry.summary)\n"
            if let signature = entry.signature { text += "\nFailure signature: `\(signature)`\n" }
            if !entry.detail.isEmpty {
                text += "\n```\n\(entry.detail)\n```\n"
            }
            text += "\n"
        }
        return text
    }
}
