import Foundation

/// A directory of its own under the system temporary directory for one benchmark's database files.
///
/// Only the path is chosen at registration (the runner registers every benchmark on each launch,
/// including the launch that only lists them); `create()` runs in the benchmark's setup and
/// `remove()` in its teardown.
struct ScratchDirectory: Sendable {
    let url: URL

    init(label: String) {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("keel-bench-\(label)-\(UUID().uuidString)", isDirectory: true)
    }

    func create() throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ file: String) -> String {
        url.appendingPathComponent(file).path
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
