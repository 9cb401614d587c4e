import Foundation
import KeelPipeline
import Testing

/// The pure judgement of `keel check`: facts about a machine in, problems out.
@Suite struct ConfigCheckTests {
    let config = KeelConfig(
        project: "app", store: .init(sqlite: "/tmp/keel-check/keel.sqlite"), forge: .init(local: .init(origin: "/srv/origin.git")),
        ci: .init(commands: [.init(name: "unit", run: "CI=1 swift test --parallel")]),
        agent: .init(kind: .claudeCode), server: .init(port: 9100), workspaces: "/tmp/keel-check/ws", transcripts: "/tmp/keel-check/t",
        alerts: .init(telegram: .init(chatID: "42")))

    func facts(
        programs: [String: MachineFacts.Program?] = [
            "claude": .init(path: "/usr/bin/claude", executable: true), "swift": .init(path: "/usr/bin/swift", executable: true),
        ],
        environment: [String: String] = ["KEEL_TELEGRAM_BOT_TOKEN": "t"], origin: MachineFacts.Origin = .hasBase, portFree: Bool? = true
    ) -> MachineFacts {
        MachineFacts(programs: programs, environment: environment, origin: origin, port: 9100, portFree: portFree)
    }

    @Test func aMachineWithEverythingHasNoProblems() {
        #expect(ConfigCheck.problems(config, facts: facts()).isEmpty)
    }

    @Test func eachMissingThingIsOneProblemNamingItsKey() {
        let problems = ConfigCheck.problems(
            config,
            facts: facts(
                programs: ["claude": .init(path: "/usr/bin/claude", executable: false)], environment: ["KEEL_TELEGRAM_BOT_TOKEN": ""],
                origin: .unreachable("fatal: repository not found"), portFree: false))
        #expect(problems.map(\.key) == ["agent.command", "forge.local.origin", "ci.commands", "alerts.telegram.bot_token_env", "server.port"])
        #expect(problems[0].description == "agent.command: the agent's program /usr/bin/claude is not executable; run chmod +x /usr/bin/claude")
        // The program of a shell command is its first word after environment assignments.
        #expect(problems[2].what.contains("the program swift was not found"))
        #expect(problems[1].what.contains("fatal: repository not found"))
    }

    @Test func shellKeywordsBuiltinsAndComputedProgramsAreNotLookedUp() {
        var shellish = config
        shellish.ci.commands = [
            .init(name: "syntax", run: "for f in *.sh; do sh -n $f; done"), .init(name: "make", run: "cd app && make test"),
            .init(name: "runner", run: "$RUNNER --all"), .init(name: "script", run: "LANG=C ./run-tests.sh -v"),
        ]
        let problems = ConfigCheck.problems(shellish, facts: facts(programs: ["claude": .init(path: "/usr/bin/claude", executable: true)]))
        #expect(problems.map(\.what) == ["script: the program ./run-tests.sh was not found"])
    }
}
