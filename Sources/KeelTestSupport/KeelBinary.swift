import Foundation

/// Finds the `keel` executable that `swift test` built, so scenario tests run Keel as a user does:
/// as a separate process. `KEEL_BINARY` overrides the search.
public enum KeelBinary {
    public static var path: String {
        get throws {
            let fm = FileManager.default
            if let explicit = ProcessInfo.processInfo.environment["KEEL_BINARY"], fm.isExecutableFile(atPath: explicit) {
                return explicit
            }
            var candidates: [URL] = []
            // The test bundle sits beside the products in the build directory.
            let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            candidates.append(runner.deletingLastPathComponent().appendingPathComponent("keel"))
            candidates.append(runner.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("keel"))
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(root.appendingPathComponent(".build/debug/keel"))
            for candidate in candidates where fm.isExecutableFile(atPath: candidate.path) {
                return candidate.path
            }
            throw RepoBuilderError(message: "the keel executable was not found (looked in \(candidates.map(\.path))); run `swift build` or set KEEL_BINARY")
        }
    }
}
