import Foundation
import KeelAgents

/// The agent `keel demo` runs: a real executable (`keel sample-agent`) that Keel starts exactly as
/// it starts a third-party agent. It reads its task from the files Keel names in its environment,
/// edits the clone it runs in, and prints Claude Code `stream-json` ending with a `result` line.
///
/// What it does is scripted by the issue text, in fenced blocks:
/// - a ```` ```diff ```` block is applied with `git apply`;
/// - a ```` ```diff on-ci-failure ```` block is applied instead when the history Keel hands over
///   holds failing CI output (lines starting with `FAIL`), which the agent quotes back;
/// - a ```` ```keel-sample-agent ```` block containing `hang` makes it print nothing and never exit.
public struct SampleAgent: Sendable {
    /// Prices used to report a cost, as a real agent would: USD per million tokens.
    static let inputPricePerMillion = 3.0
    static let outputPricePerMillion = 15.0
    static let model = "keel-sample-1"

    public init() {}

    /// Runs the agent in the current directory; returns the process exit code.
    public func run(environment: [String: String], prompt: String, write: @Sendable (String) -> Void) async -> Int32 {
        let session = UUID().uuidString.lowercased()
        let cwd = FileManager.default.currentDirectoryPath
        func emit(_ object: [String: Any]) {
            var object = object
            object["session_id"] = session
            object["uuid"] = UUID().uuidString.lowercased()
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
                write(String(decoding: data, as: UTF8.self) + "\n")
            }
        }
        let task = environment["KEEL_TASK_FILE"].flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? prompt
        let history = environment["KEEL_HISTORY_FILE"].flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
        let blocks = Self.fencedBlocks(in: task)

        if blocks.contains(where: { $0.info == "keel-sample-agent" && $0.body.contains("hang") }) {
            // Scripted hang: silent forever, like the Claude subprocess of the field report.
            while true { try? await Task.sleep(for: .seconds(3600)) }
        }

        emit([
            "type": "system", "subtype": "init", "cwd": cwd, "model": Self.model, "tools": ["Bash", "Edit", "Read"],
            "permissionMode": "acceptEdits", "claude_code_version": "keel-sample",
        ])
        await pause()
        let failures = history.split(separator: "\n").map(String.init).filter { $0.hasPrefix("FAIL") }
        var said = "Reading the task: \(task.split(separator: "\n").first.map(String.init) ?? "")."
        let retryBlock = blocks.first { $0.info == "diff on-ci-failure" }
        var chosen = blocks.first { $0.info == "diff" }
        if !failures.isEmpty {
            said += " The previous attempt failed CI with: \(failures.joined(separator: "; ")). Applying the corrected change."
            if retryBlock != nil { chosen = retryBlock }
        }
        emit(Self.assistant([["type": "text", "text": said]]))
        await pause()
        var turns = 1
        var applied = ""
        if let chosen {
            turns += 1
            let patchPath = NSTemporaryDirectory() + "keel-sample-\(session).diff"
            try? Data(chosen.body.utf8).write(to: URL(fileURLWithPath: patchPath))
            defer { try? FileManager.default.removeItem(atPath: patchPath) }
            emit(Self.assistant([["type": "tool_use", "id": "toolu_\(turns)", "name": "Bash", "input": ["command": "git apply \(patchPath)"]]]))
            let result = try? await ProcessRunner().capture(
                ProcessSpec(executable: "git", arguments: ["apply", "--whitespace=nowarn", patchPath], workingDirectory: cwd))
            let ok = result?.outcome.succeeded ?? false
            let output = (result?.stderr ?? "git could not be started") + (result?.stdout ?? "")
            emit([
                "type": "user",
                "message": ["role": "user", "content": [["type": "tool_result", "tool_use_id": "toolu_\(turns)", "content": output, "is_error": !ok]]],
            ])
            await pause()
            guard ok else {
                emit(Self.result(turns: turns, prompt: prompt, output: output, error: "git apply failed: \(output)"))
                return 1
            }
            applied = chosen.body
        }
        let summary = chosen == nil ? "Nothing to change: the task carries no diff." : "Applied the change; the tests are Keel's to run."
        emit(Self.assistant([["type": "text", "text": summary]]))
        emit(Self.result(turns: turns, prompt: prompt, output: applied + summary, error: nil))
        return 0
    }

    func pause() async { try? await Task.sleep(for: .milliseconds(150)) }

    static func assistant(_ content: [[String: Any]]) -> [String: Any] {
        ["type": "assistant", "message": ["model": model, "role": "assistant", "type": "message", "content": content]]
    }

    /// The final `result` line, priced from the token counts like a real agent's report.
    static func result(turns: Int, prompt: String, output: String, error: String?) -> [String: Any] {
        let input = max(1, prompt.utf8.count / 4)
        let out = max(1, output.utf8.count / 4)
        let cost = (Double(input) * inputPricePerMillion + Double(out) * outputPricePerMillion) / 1_000_000
        var object: [String: Any] = [
            "type": "result", "subtype": error == nil ? "success" : "error_during_execution", "is_error": error != nil,
            "num_turns": turns, "duration_ms": 150 * (turns + 1), "total_cost_usd": cost,
            "usage": ["input_tokens": input, "output_tokens": out, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0],
        ]
        if let error { object["errors"] = [error] } else { object["result"] = "Done." }
        return object
    }

    struct Block: Equatable {
        var info: String
        var body: String
    }

    /// Fenced code blocks (```` ``` ````) with their info strings.
    static func fencedBlocks(in text: String) -> [Block] {
        var blocks: [Block] = []
        var current: (info: String, lines: [String])? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let open = current {
                    blocks.append(Block(info: open.info, body: open.lines.joined(separator: "\n") + "\n"))
                    current = nil
                } else {
                    current = (String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces), [])
                }
            } else if current != nil {
                current!.lines.append(line)
            }
        }
        return blocks
    }
}
