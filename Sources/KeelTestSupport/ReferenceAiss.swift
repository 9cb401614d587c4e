import Foundation

/// The AISS-1.0 reference implementation, `aiss-standard` (Python), as the interoperability tests
/// run it: a real subprocess of the interpreter in `KEEL_PYTHON` (default `python3`).
///
/// The tests that need it are enabled with ``isAvailable`` and say what to install when it is
/// missing; `KEEL_REQUIRE_AISS=1` (CI sets it) enables them anyway, so a missing install fails
/// them instead of skipping them.
public enum ReferenceAiss {
    /// The interpreter: `KEEL_PYTHON`, or `python3` on the PATH.
    public static let python = ProcessInfo.processInfo.environment["KEEL_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"

    /// What a skipped test says.
    public static let skipMessage =
        "aiss-standard is not importable by \(python) (pip install aiss-standard==2.0.2, or set KEEL_PYTHON to an interpreter that has it): AISS interoperability not tested"

    /// Whether `import aiss` succeeds in ``python``.
    public static let isInstalled: Bool = (try? run("import aiss").status) == 0

    /// Whether the interoperability tests run: aiss is installed, or CI requires them.
    public static var isAvailable: Bool {
        isInstalled || ProcessInfo.processInfo.environment["KEEL_REQUIRE_AISS"] == "1"
    }

    /// Runs `script` with `arguments` (sys.argv[1...]) to its end; returns the exit status and stderr.
    @discardableResult
    public static func run(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", script] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    /// Runs `script` (off the cooperative pool), throwing with its stderr if it exits non-zero.
    public static func mustRun(_ script: String, _ arguments: [String]) async throws {
        let (status, stderr) = try await offPool { try run(script, arguments) }
        guard status == 0 else { throw RepoBuilderError(message: "\(python) exited \(status):\n\(stderr)") }
    }
}
