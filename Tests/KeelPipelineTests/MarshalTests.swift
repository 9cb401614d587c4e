import Foundation
import KeelCore
import KeelForge
import KeelGit
import KeelPipeline
import KeelStore
import KeelTestSupport
import Testing

/// The marshal: branches brought up to date with the base before they merge, conflicts resolved
/// by an agent and scored, nothing merged with conflict markers.
extension PipelineTests {
    /// The developer writes shared.txt; on attempt 1 a colleague lands `file` with `content` on main meanwhile.
    static func racedDeveloper(file: String, content: String) -> String {
        """
        cat > /dev/null
        printf 'item %s\\n' "$KEEL_ITEM_ID" > shared.txt
        if [ "$KEEL_ATTEMPT" = 1 ]; then
          other="$(dirname "$0")/colleague-$KEEL_ITEM_ID-$$"
          git clone -q "$ORIGIN" "$other/c" && cd "$other/c" && printf '\(content)\\n' > \(file) \\
            && git add \(file) && git -c user.name=c -c user.email=c@x commit -qm colleague && git push -q origin HEAD:main
        fi
        exit 0

        """
    }

    func marshalRig(developer: String, resolver: String?) async throws -> (Rig, PipelineEnvironment, TemporaryDirectory) {
        let scripts = try TemporaryDirectory(prefix: "keel-resolver")
        var extra = ""
        if let resolver {
            let path = try Self.script(resolver, named: "resolver.sh", in: scripts)
            extra = "marshal: {agent: {kind: command, command: [\(path)]}, min_confidence: 0.9}"
        }
        let rig = try await rig(agent: developer, extra: extra)
        var environment = rig.environment
        environment.config.agent.env["ORIGIN"] = rig.origin
        environment.keelExecutable = try KeelBinary.path
        return (rig, environment, scripts)
    }

    @Test func aBranchBehindTheBaseIsBroughtUpToDateCheckedAndMerged() async throws {
        let (rig, environment, scripts) = try await marshalRig(developer: Self.racedDeveloper(file: "other.txt", content: "colleague"), resolver: nil)
        defer { rig.tmp.remove(); scripts.remove() }
        let item = try await submit(rig, "behind")
        try await Scheduler(environment: environment).runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .merged && final.attempt == 1, "\(rig.events.all.joined(separator: "\n"))")
        let merged = try #require(try await rig.store.transitions(of: item.id).last)
        #expect(merged.reason.contains("brought up to date with main"), "\(merged.reason)")
        let pushed = try #require(try await rig.store.transitions(of: item.id).first { $0.to == .awaitingCI })
        #expect(!pushed.reason.contains(final.headSHA?.prefix(7) ?? "none"), "the recorded head is the updated one")
        let runs = try await rig.store.checkRuns(of: item.id).filter { $0.kind == "ci" }
        #expect(runs.count == 2 && runs.allSatisfy(\.passed), "the updated head was checked too")
        #expect(try await rig.repos.git.run(["show", "main:other.txt"], in: rig.origin) == "colleague\n")
    }

    @Test func aConflictIsResolvedByTheAgentScoredAndMerged() async throws {
        let resolver = """
            cat > /dev/null
            printf 'item %s\\nitem from a colleague\\n' "$KEEL_ITEM_ID" > shared.txt
            git add shared.txt

            """
        let (rig, environment, scripts) = try await marshalRig(
            developer: Self.racedDeveloper(file: "shared.txt", content: "item from a colleague"), resolver: resolver)
        defer { rig.tmp.remove(); scripts.remove() }
        let item = try await submit(rig, "conflicting")
        try await Scheduler(environment: environment).runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .merged && final.attempt == 1, "resolved, not redeveloped: \(rig.events.all.joined(separator: "\n"))")
        let reason = try #require(try await rig.store.transitions(of: item.id).last?.reason)
        #expect(reason.contains("conflict resolution in shared.txt: confidence 1.0"), "\(reason)")
        #expect(try await rig.store.agentRuns(of: item.id).map(\.stage) == ["develop", "resolve"])
        let content = try await rig.repos.git.run(["show", "main:shared.txt"], in: rig.origin)
        #expect(content == "item \(item.id)\nitem from a colleague\n")
    }

    @Test func aResolutionThatLeavesMarkersGoesToAPersonAndNothingMerges() async throws {
        let (rig, environment, scripts) = try await marshalRig(
            developer: Self.racedDeveloper(file: "shared.txt", content: "item from a colleague"), resolver: "cat > /dev/null\nexit 0\n")
        defer { rig.tmp.remove(); scripts.remove() }
        let item = try await submit(rig, "unresolved")
        try await Scheduler(environment: environment).runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman)
        let reason = try #require(try await rig.store.transitions(of: item.id).last?.reason)
        #expect(reason.contains("conflicts NOT resolved") && reason.contains("markers left at shared.txt:1"), "\(reason)")
        let main = try await rig.repos.git.run(["show", "main:shared.txt"], in: rig.origin)
        #expect(main == "item from a colleague\n", "nothing merged")
    }

    @Test func aResolutionThatRewritesFarMoreThanTheChangeGoesToAPerson() async throws {
        let resolver = """
            cat > /dev/null
            { printf 'item %s\\nitem from a colleague\\n' "$KEEL_ITEM_ID"; for i in 1 2 3 4 5 6; do echo "item invented $i"; done; } > shared.txt
            git add shared.txt

            """
        let (rig, environment, scripts) = try await marshalRig(
            developer: Self.racedDeveloper(file: "shared.txt", content: "item from a colleague"), resolver: resolver)
        defer { rig.tmp.remove(); scripts.remove() }
        let item = try await submit(rig, "overreach")
        try await Scheduler(environment: environment).runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman)
        let reason = try #require(try await rig.store.transitions(of: item.id).last?.reason)
        #expect(reason.contains("confidence 0.8:") && reason.contains("6 invented line(s)") && reason.contains("below marshal.min_confidence"), "\(reason)")
        #expect(try await rig.repos.git.run(["show", "main:shared.txt"], in: rig.origin) == "item from a colleague\n")
        let branch = try await rig.repos.git.run(["show", "keel/item-\(item.id):shared.txt"], in: rig.origin)
        #expect(branch.contains("item invented 6"), "the resolution is on the branch for the person to review")
    }

    @Test func aResolverThatCommitsTheMergeItselfIsAcceptedAndOneThatAbortsIsNot() async throws {
        let committing = """
            cat > /dev/null
            printf 'item %s\\nitem from a colleague\\n' "$KEEL_ITEM_ID" > shared.txt
            git add shared.txt && git -c user.name=agent -c user.email=agent@x commit -q --no-edit

            """
        let (rig, environment, scripts) = try await marshalRig(
            developer: Self.racedDeveloper(file: "shared.txt", content: "item from a colleague"), resolver: committing)
        defer { rig.tmp.remove(); scripts.remove() }
        let item = try await submit(rig, "self-committing resolver")
        try await Scheduler(environment: environment).runUntilSettled()
        #expect(try await rig.store.item(item.id)?.state == .merged, "\(rig.events.all.joined(separator: "\n"))")

        let (abortRig, abortEnvironment, abortScripts) = try await marshalRig(
            developer: Self.racedDeveloper(file: "shared.txt", content: "item from a colleague"), resolver: "cat > /dev/null\ngit merge --abort\n")
        defer { abortRig.tmp.remove(); abortScripts.remove() }
        let aborted = try await submit(abortRig, "aborting resolver")
        try await Scheduler(environment: abortEnvironment).runUntilSettled()
        #expect(try await abortRig.store.item(aborted.id)?.state == .needsHuman)
        #expect(try await abortRig.store.transitions(of: aborted.id).last?.reason.contains("conflicts NOT resolved") == true)
    }
}

/// A lost race to push the base (issue 9, section 7) is the marshal's, never the agent's.
extension PipelineTests {
    @Test func aBaseThatKeepsMovingDuringTheMergeIsMarshalledAgainWithoutASecondAgentRun() async throws {
        let rig = try await rig(agent: "cat > /dev/null\nprintf 'item %s\\n' \"$KEEL_ITEM_ID\" > shared.txt\n")
        defer { rig.tmp.remove() }
        // A git that, before each of the forge's first three pushes to main, lands a colleague's
        // commit there: with one redo per merge, the first merge gives up and the item must be
        // marshalled again.
        let racer = rig.tmp.path("racer")
        try await rig.repos.git.clone(rig.origin, into: racer, branch: "main")
        let racing = try Self.script(
            """
            case " $* " in
            *" push --porcelain "*refs/heads/main*)
                n=$(cat "$RACE_STATE" 2>/dev/null || echo 0)
                if [ "$n" -lt 3 ]; then
                    echo $((n + 1)) > "$RACE_STATE"
                    echo "race $n" > "$RACE_CLONE/race-$n.txt"
                    { git -C "$RACE_CLONE" add -A && git -c user.name=R -c user.email=r@x -C "$RACE_CLONE" commit -q -m "race $n" \\
                        && git -C "$RACE_CLONE" push -q origin HEAD:refs/heads/main; } >&2 || exit 99
                fi ;;
            esac
            exec git "$@"

            """, named: "racing-git.sh", in: rig.tmp)
        var environment = rig.environment
        environment.forge = LocalForge(
            originURL: rig.origin, baseBranch: "main", ciCommands: [CICommand(name: "ci", run: "sh ci.sh")], ciTimeout: .seconds(60),
            workRoot: rig.tmp.path("forge"),
            git: Git(executable: racing, environment: ["RACE_STATE": rig.tmp.path("races"), "RACE_CLONE": racer]),
            race: BaseRace(redoLimit: 1))
        let item = try await submit(rig, "raced")

        try await Scheduler(environment: environment).runUntilSettled()

        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .merged && final.attempt == 1, "\(rig.events.all.joined(separator: "\n"))")
        #expect(try await rig.store.agentRuns(of: item.id).map(\.stage) == ["develop"])
        let races = try await rig.store.history(of: item.id).filter { $0.signature == "merge_race" }
        #expect(races.count == 1, "one marshal run lost its race: \(races.map(\.summary))")
        #expect(try await rig.store.transitions(of: item.id).map(\.to).filter { $0 == .developing }.count == 1)
        // The second marshal run brought the branch up to date with the colleagues' commits and merged it.
        for n in 0..<3 { #expect(try await rig.repos.git.run(["show", "main:race-\(n).txt"], in: rig.origin) == "race \(n)\n") }
        #expect(try await rig.repos.git.run(["show", "main:shared.txt"], in: rig.origin) == "item \(item.id)\n")
    }
}

/// A branch rewritten by someone else before the merge (issue 9, section 4).
extension PipelineTests {
    @Test func aBranchSomeoneRewroteBeforeTheMergeGoesToAPersonWithoutASecondAgentRun() async throws {
        // The inspect check plays the colleague: it replaces keel/item-1 with a commit of its own
        // on the base, which the recorded head is not part of.
        let rewrite = "git checkout -q --detach HEAD~1 && git -c user.name=Colleague -c user.email=c@x commit -q --allow-empty "
            + "-m rewrite && git push -q -f origin HEAD:refs/heads/keel/item-1"
        let rig = try await rig(
            agent: "cat > /dev/null\nprintf 'item %s\\n' \"$KEEL_ITEM_ID\" > shared.txt\n",
            extra: "inspect: {checks: [{name: rewrite, run: '\(rewrite)'}]}")
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "rewritten")

        try await rig.scheduler.runUntilSettled()

        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman, "\(rig.events.all.joined(separator: "\n"))")
        let tip = try #require(try await rig.repos.git.remoteBranchHead(url: rig.origin, branch: "keel/item-1"))
        let reason = try #require(try await rig.store.transitions(of: item.id).last?.reason)
        #expect(reason.contains(String(tip.prefix(7))) && reason.contains("did not push"), "\(reason)")
        #expect(try await rig.store.agentRuns(of: item.id).map(\.stage) == ["develop"])
    }
}
