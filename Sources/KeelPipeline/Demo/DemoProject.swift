import Foundation
public import KeelGit

/// The sample project `keel demo` builds: a tiny unit converter in POSIX shell with a test script
/// (it runs on a bare Debian), and the issues that show the machinery.
public enum DemoProject {
    /// Files of the sample program at its first commit.
    static let files: [String: String] = [
        "README.md": """
            # units

            A tiny unit converter: `sh bin/units COMMAND VALUE`. Each command is a file in `lib/`.
            Run the tests with `sh tests/run.sh`.

            """,
        "bin/units": """
            #!/bin/sh
            # units: dispatch `units COMMAND VALUE` to lib/COMMAND.sh
            set -eu
            here=$(dirname "$0")/..
            if [ $# -lt 1 ] || [ ! -f "$here/lib/$1.sh" ]; then
                echo "usage: units COMMAND [VALUE]; commands: $(ls "$here/lib" | sed 's/\\.sh$//' | tr '\\n' ' ')" >&2
                exit 2
            fi
            cmd=$1
            shift
            . "$here/lib/$cmd.sh"

            """,
        "lib/c2f.sh": """
            # Celsius to Fahrenheit
            awk -v v="$1" 'BEGIN { printf "%.1f\\n", v * 9 / 5 + 32 }'

            """,
        "lib/f2c.sh": """
            # Fahrenheit to Celsius
            awk -v v="$1" 'BEGIN { printf "%.1f\\n", (v - 32) * 5 / 9 }'

            """,
        "tests/run.sh": """
            #!/bin/sh
            # Runs every check; prints ok/FAIL per check and exits 1 on any failure.
            set -u
            cd "$(dirname "$0")/.."
            fails=0
            check() {
                expected=$1
                shift
                actual=$(sh bin/units "$@" 2>&1)
                if [ "$actual" = "$expected" ]; then
                    echo "ok   units $*"
                else
                    echo "FAIL units $*: expected $expected, got $actual"
                    fails=$((fails + 1))
                fi
            }
            check 212.0 c2f 100
            check 0.0 f2c 32
            for t in tests/cases/*.sh; do
                [ -f "$t" ] && . "$t"
            done
            if [ "$fails" -eq 0 ]; then
                echo "all tests passed"
            else
                echo "$fails test(s) failed"
                exit 1
            fi

            """,
    ]

    /// An issue the demo files, with the sample agent's script in its body.
    public struct Issue: Sendable {
        public var title: String
        public var body: String
        /// Indexes (0-based, in `issues`) of the issues it depends on.
        public var dependsOn: [Int]
        /// What the demo shows with it.
        public var shows: String
    }

    public static let issues: [Issue] = [
        Issue(
            title: "Add a version command",
            body: """
                `units version` should print `units 1.1`.

                \(fence("diff", newFileDiff("lib/version.sh", "# Print the version\necho \"units 1.1\"\n")
                    + newFileDiff("tests/cases/version.sh", "check \"units 1.1\" version\n")))
                """,
            dependsOn: [], shows: "goes straight through"),
        Issue(
            title: "Add kilometres to miles",
            body: """
                `units km2mi 10` should print `6.2`. Put the shared constant in `lib/distance.sh` so that
                the miles-to-kilometres issue can reuse it.

                \(fence("diff", newFileDiff("lib/distance.sh", "KM_PER_MILE=1.609344\n")
                    + newFileDiff("lib/km2mi.sh", km2mi(op: "*"))
                    + newFileDiff("tests/cases/km2mi.sh", "check 6.2 km2mi 10\n")))

                If CI shows the conversion going the wrong way, divide instead (on top of the first attempt's work,
                which the next attempt continues from):

                \(fence("diff on-ci-failure", changeDiff("lib/km2mi.sh", from: km2mi(op: "*"), to: km2mi(op: "/"))))
                """,
            dependsOn: [], shows: "fails CI on the first attempt; the second attempt is given the CI output and fixes it"),
        Issue(
            title: "Add miles to kilometres",
            body: """
                `units mi2km 5` should print `8.0`, reusing `KM_PER_MILE` from `lib/distance.sh`.

                \(fence("diff", newFileDiff("lib/mi2km.sh", "# Miles to kilometres\n. \"$here/lib/distance.sh\"\nawk -v v=\"$1\" -v k=\"$KM_PER_MILE\" 'BEGIN { printf \"%.1f\\n\", v * k }'\n")
                    + newFileDiff("tests/cases/mi2km.sh", "check 8.0 mi2km 5\n")))
                """,
            dependsOn: [1], shows: "depends on the kilometres issue and waits until it merges"),
        Issue(
            title: "Rewrite the converter in Rust",
            body: """
                A large rewrite. The agent will go quiet on this one.

                \(fence("keel-sample-agent", "hang\n"))
                """,
            dependsOn: [], shows: "the agent hangs with no output: killed by the inactivity timeout, stopped by the circuit breaker"),
    ]

    static func km2mi(op: String) -> String {
        "# Kilometres to miles\n. \"$here/lib/distance.sh\"\nawk -v v=\"$1\" -v k=\"$KM_PER_MILE\" 'BEGIN { printf \"%.1f\\n\", v \(op) k }'\n"
    }

    static func fence(_ info: String, _ body: String) -> String {
        "```\(info)\n\(body)```"
    }

    /// A `git apply` patch that replaces the whole of `path`'s content `from` with `to`.
    static func changeDiff(_ path: String, from: String, to: String) -> String {
        let old = from.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "-\($0)" }
        let new = to.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "+\($0)" }
        return """
            diff --git a/\(path) b/\(path)
            --- a/\(path)
            +++ b/\(path)
            @@ -1,\(old.count) +1,\(new.count) @@
            \((old + new).joined(separator: "\n"))

            """
    }

    /// A `git apply` patch that creates `path` with `content`.
    static func newFileDiff(_ path: String, _ content: String) -> String {
        let lines = content.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "+\($0)" }
        return """
            diff --git a/\(path) b/\(path)
            new file mode 100644
            --- /dev/null
            +++ b/\(path)
            @@ -0,0 +1,\(lines.count) @@
            \(lines.joined(separator: "\n"))

            """
    }

    /// The keel.yml of the demo: local forge, SQLite under `.keel/`, the sample agent, short
    /// timeouts so the hang is caught in seconds.
    static let config = """
        # keel.yml written by `keel demo`. See README.md for every key.
        project: units-demo
        store:
          sqlite: .keel/keel.sqlite
        forge:
          local:
            origin: origin.git
            base: main
        ci:
          commands:
            - {name: tests, run: sh tests/run.sh}
          timeout_seconds: 120
        inspect:
          checks:
            - {name: shell-syntax, run: 'for f in bin/units lib/*.sh tests/run.sh; do sh -n "$f" || exit 1; done'}
        agent:
          kind: sample
          timeouts:
            wall_clock_seconds: 120
            inactivity_seconds: 2
        scheduler:
          workers: 2
          lease_seconds: 15
          poll_milliseconds: 100
          breaker_threshold: 3
          backoff:
            initial_seconds: 1
            max_seconds: 2
            jitter: 0.5
        server:
          port: 8765

        """

    /// Creates the sample project in `directory`: a bare origin seeded with the program, and keel.yml.
    /// Returns the path of keel.yml.
    public static func create(in directory: String, git: Git = Git()) async throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let origin = directory + "/origin.git"
        try await git.initBare(at: origin)
        let seed = directory + "/.keel/seed"
        try? fm.removeItem(atPath: seed)
        try fm.createDirectory(atPath: seed, withIntermediateDirectories: true)
        _ = try await git.run(["init", "-q", "-b", "main"], in: seed)
        for (path, content) in files {
            let full = seed + "/" + path
            try fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: full))
        }
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: seed + "/bin/units")
        _ = try await git.commitAll(message: "units: Celsius and Fahrenheit", in: seed)
        _ = try await git.run(["push", "-q", origin, "HEAD:refs/heads/main"], in: seed)
        try? fm.removeItem(atPath: seed)
        let configPath = directory + "/keel.yml"
        try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
        return configPath
    }
}
