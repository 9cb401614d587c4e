import KeelAgents
import Testing

@Suite struct EpicPlanTests {
    @Test func aValidPlanIsOrderedDependenciesFirst() throws {
        let text = """
            Here is the plan.
            {"issues": [
              {"id": "api", "title": "Expose GET /users", "body": "b", "depends_on": ["schema"]},
              {"id": "docs", "title": "Document it", "body": "", "depends_on": ["api"]},
              {"id": "schema", "title": "Add the users table", "body": "b", "acceptance": "migration runs", "depends_on": []}
            ]}
            """
        let plan = try EpicPlan.parse(text)
        #expect(plan.issues.map(\.id) == ["schema", "api", "docs"])
        #expect(plan.issues[0].acceptance == "migration runs" && plan.issues[1].dependsOn == ["schema"])
        let repeated = try EpicPlan.parse(#"{"issues": [{"id": "a", "title": "A"}, {"id": "b", "title": "B", "depends_on": ["a", "a"]}]}"#)
        #expect(repeated.issues[1].dependsOn == ["a"], "a repeated edge is one edge")
    }

    @Test(arguments: [
        (#"{"issues": [{"id": "a", "title": "A", "depends_on": ["b"]}, {"id": "b", "title": "B", "depends_on": ["a"]}]}"#, "cycle: a → b → a"),
        (#"{"issues": [{"id": "a", "title": "A", "depends_on": ["zzz"]}]}"#, "depends on \"zzz\", which is not an id of this plan"),
        (#"{"issues": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}"#, "used by more than one issue"),
        (#"{"issues": [{"id": "a", "title": "A", "depends_on": ["a"]}]}"#, "depends on itself"),
        (#"{"issues": [{"id": "a", "title": ""}]}"#, "has no \"title\""),
        (#"{"issues": []}"#, "non-empty list"),
        ("I could not decompose this epic.", "no JSON object"),
        (#"{"issues": [{"id": "a", "title": "A"#, "no JSON object"),
    ])
    func anInvalidPlanIsRejectedWithTheReason(text: String, says: String) {
        #expect {
            _ = try EpicPlan.parse(text)
        } throws: { error in
            "\(error)".contains(says)
        }
    }

    @Test func aLongerCycleIsNamedWhole() {
        let text = #"{"issues": [{"id": "x", "title": "X"}, {"id": "a", "title": "A", "depends_on": ["c"]}, {"id": "b", "title": "B", "depends_on": ["a"]}, {"id": "c", "title": "C", "depends_on": ["b", "x"]}]}"#
        #expect {
            _ = try EpicPlan.parse(text)
        } throws: { error in
            "\(error)" == "the dependencies form a cycle: a → c → b → a"
        }
    }
}
