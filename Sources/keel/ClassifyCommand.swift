import ArgumentParser
import Foundation
import KeelCore
import KeelPipeline

/// `keel classify`: how Keel would handle an error, for people and for scripts.
struct ClassifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Classify an error text read on stdin as transient, wait or permanent.",
        discussion: """
            Prints one JSON object: {"class": "transient"|"wait"|"permanent", "rule": "...", "retry_after_seconds": N}, \
            the last key only when a reset time is known. With --lines, each stdin line is classified on its own and \
            one object is printed per line, in order (an empty line gives the rule "empty"), so the output zips with \
            the input. Agent JSON output (Claude Code, Codex, Gemini CLI) is read as such.
            """
    )

    // keel.yml's classifier.rules apply when the file exists; a missing keel.yml is never an error here.
    @OptionGroup var options: ConfigOption
    @Flag(name: .long, help: "Classify each stdin line separately; print one JSON object per line.") var lines = false

    func run() async throws {
        var rules: [Rule] = []
        if FileManager.default.fileExists(atPath: options.absolutePath) {
            rules = try CLI.loadConfig(options).classifierRules
        }
        let classifier = ErrorClassifier(extraRules: rules, timeZone: .current)
        let input = FileHandle.standardInput
        guard lines else {
            let text = String(decoding: input.readDataToEndOfFile(), as: UTF8.self)
            CLI.out(classifier.classify(text, now: Date()).jsonText + "\n")
            return
        }
        // Reads what is available and answers every complete line before reading more, so a
        // caller that writes one line and waits for its answer is not left waiting.
        var pending: [UInt8] = []
        while true {
            let chunk = input.availableData
            let atEnd = chunk.isEmpty
            pending.append(contentsOf: chunk)
            var out = ""
            var lineStart = 0
            let now = Date()
            while let newline = pending[lineStart...].firstIndex(of: 0x0A) {
                out += classifier.classify(Self.line(pending[lineStart..<newline]), now: now).jsonText
                out += "\n"
                lineStart = newline + 1
            }
            if atEnd, lineStart < pending.count {
                out += classifier.classify(Self.line(pending[lineStart...]), now: now).jsonText + "\n"
                lineStart = pending.count
            }
            pending.removeFirst(lineStart)
            if !out.isEmpty {
                CLI.out(out)
            }
            if atEnd {
                return
            }
        }
    }

    /// A line's text without its CR, invalid UTF-8 repaired.
    private static func line(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.last == 0x0D ? bytes.dropLast() : bytes, as: UTF8.self)
    }
}
