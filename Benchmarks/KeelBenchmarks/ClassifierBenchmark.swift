import Benchmark
import Foundation
import KeelCore

/// Classifier throughput: messages classified per second, one message per scaled iteration,
/// cycling through the labelled sample (`Tests/Fixtures/errors-public.tsv`)
/// and a few structured and long agent outputs, so both the signal path and the text table run.
func registerClassifierBenchmark() {
    let messages = ClassifierSample.messages()
    let classifier = ErrorClassifier()
    let now = Date(timeIntervalSince1970: 1_790_000_000)
    Benchmark(
        "classifier messages",
        configuration: .init(
            metrics: [.throughput, .wallClock], warmupIterations: 10, scalingFactor: .kilo, maxDuration: .seconds(5),
            maxIterations: 100_000)
    ) { benchmark in
        var index = 0
        for _ in benchmark.scaledIterations {
            blackHole(classifier.classify(messages[index], now: now))
            index = index == messages.count - 1 ? 0 : index + 1
        }
    }
}

enum ClassifierSample {
    static func messages() -> [String] {
        var messages: [String] = [
            "API Error: The socket connection was closed unexpectedly.",
            "Required status check \"check-branch-name\" is expected.",
            "2 of 5 required status checks are expected.",
            "At least 1 approving review is required by reviewers with write access.",
            #"{"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","api_error_status":403,"result":"Your organization has disabled Claude subscription access"}"#,
            "You've hit your usage limit. To get more access now, send a request to your admin or try again at 12:16 PM.",
            String(repeating: "compiling module 42 of 97: ok\n", count: 200) + "error: something odd happened",
        ]
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/Fixtures/errors-public.tsv")
        if let text = try? String(contentsOf: fixture, encoding: .utf8) {
            for line in text.split(separator: "\n").dropFirst() {
                let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
                if columns.count >= 3 { messages.append(String(columns[2])) }
            }
        }
        return messages
    }
}
