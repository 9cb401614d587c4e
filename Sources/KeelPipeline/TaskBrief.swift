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
                case "human_retry": "a person sent it back"
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
