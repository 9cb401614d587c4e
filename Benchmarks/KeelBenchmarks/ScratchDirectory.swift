import Foundation

/// A directory of its own under the system temporary directory for one benchmark's database files.
///
/// Only the path is chosen at registration (the runner registers every benchmark on each launch,
/// including the launch that only lists them); `create(_:)` runs in the benchmark's setup and
/// `remove()` in its teardown.
struct ScratchDirectory: Sendable {
    let url: URL

    init(label: String) {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("keel-bench-\(label)-\(UUID().uuidString)", isDirectory: true)
    }

    /// Creates the directory and runs `body` in it; removes it again if `body` throws, since the
    /// runner skips teardown when setup fails.
    func create<T>(_ body: () async throws -> T) async throws -> T {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        do {
            return try await body()
        } catch {
            remove()
            throw error
        }
    }

    func path(_ file: String) -> String {
        url.appendingPathComponent(file).path
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
