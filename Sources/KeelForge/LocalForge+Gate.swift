public import KeelCore

extension LocalForge {
    /// Runs the commands and reports each as a check: the local forge's checks all register at once.
    public func observeChecks(branch: String, headSHA: String) async throws -> [ObservedCheck] {
        let run = try await runChecks(branch: branch, headSHA: headSHA)
        return run.checks.map {
            ObservedCheck(name: $0.name, state: $0.passed ? .success : .failure, output: "$ \($0.command)\n\($0.output)")
        }
    }

    /// The local forge's gate definition: its commands. keel.yml's `ci.required` adds to it.
    public func requiredChecks() async throws -> [String] {
        ciCommands.map(\.name)
    }
}
