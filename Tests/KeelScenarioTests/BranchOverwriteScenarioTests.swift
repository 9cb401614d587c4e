import Foundation
import KeelAgents
import KeelCore
import KeelGit
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Keel never overwrites a branch whose tip is not a head it recorded for the item (issue 9, section 4).
@Suite struct BranchOverwriteScenarioTests {
    @Test func aCommitSomeoneElsePushedToTheItemBranchIsKeptAndTheItemGoesToAPersonNamingIt() async throws {
        let project = try await UserProject.make(prefix: "keel-foreign")
        defer { project.tmp.remove() }
        try project.writeConfig(scheduler: "workers: 1\npoll_milliseconds: 50")
        // While the agent works, a colleague pushes their own commit to keel/item-1.
        let colleague = project.tmp.path("colleague")
        try await project.repos.git.clone(project.origin, into: colleague, branch: "main")
        let agent = """
            #!/bin/sh
            cat > /dev/null
            printf 'hello from item %s\\n' "$KEEL_ITEM_ID" > "greeting-$KEEL_ITEM_ID.txt"
            ( unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE; cd \(colleague) && echo mine > colleague.txt && git add colleague.txt \\
              && git -c user.name=Colleague -c user.email=c@x commit -qm "Colleague's fix" && git push -q origin HEAD:refs/heads/keel/item-1 ) >&2
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.01,"usage":{"input_tokens":1,"output_tokens":1}}'

            """
        try Data(agent.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel-agent.sh"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: project.repo + "/keel-agent.sh")
        let issue = try project.writeIssue("Greeting\n")
        _ = try await keel(["submit", "--title", "Greeting", "--body-file", issue], in: project.repo)
        let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
        let server = try KeelServerProcess(config: "keel.yml", in: project.repo, log: project.tmp.path("run.log"))
        let settled = try await eventually(seconds: 120) { try await store.item(1)?.state == .needsHuman }
        server.signal(SIGTERM)
        _ = await server.waitForExit()
        #expect(settled, "the item did not go to a person:\n\(server.log)")

        // The colleague's commit is still the branch's tip, and the escalation names it.
        let theirs = try #require(try await project.repos.git.revParse("HEAD", in: colleague))
        #expect(try await project.repos.git.remoteBranchHead(url: project.origin, branch: "keel/item-1") == theirs)
        let reason = try #require(try await store.transitions(of: 1).last?.reason)
        #expect(reason.contains(String(theirs.prefix(7))) && reason.contains("Colleague's fix"), "\(reason)")
        #expect(reason.contains("did not push") && reason.contains("nothing was overwritten"), "\(reason)")
        #expect(try await store.agentRuns(of: 1).count == 1)
        #expect(!(try await project.baseLog()).contains { $0.hasPrefix("Merge keel/item-1") })
    }
}
