/// How far a conflict resolution can be trusted without a person (the marshal's confidence).
///
/// `confidence = 0.4 × every conflict resolved (no markers, nothing unmerged)
///             + 0.4 × the checks pass on the result
///             + 0.2 × (1 − min(1, invented lines ÷ (2 × original change lines)))`
///
/// "Invented" lines are lines of the resolved files found in neither side of the merge: a
/// resolution that only combines both sides scores 1.0; one that rewrites more than twice the
/// original change scores at most 0.8.
public struct ResolutionScore: Sendable, Equatable {
    public var resolved: Bool
    public var checksPassed: Bool
    public var inventedLines: Int
    public var originalLines: Int

    public init(resolved: Bool, checksPassed: Bool, inventedLines: Int, originalLines: Int) {
        self.resolved = resolved
        self.checksPassed = checksPassed
        self.inventedLines = inventedLines
        self.originalLines = originalLines
    }

    /// The size factor: 1 when nothing was invented, 0 at twice the original change or more.
    public var sizeFactor: Double {
        let ratio = Double(inventedLines) / Double(max(1, originalLines) * 2)
        return max(0, 1 - min(1, ratio))
    }

    public var confidence: Double {
        (resolved ? 0.4 : 0) + (checksPassed ? 0.4 : 0) + 0.2 * sizeFactor
    }

    /// `confidence 0.93: conflicts resolved, checks passed, 3 invented lines against a 20-line change`.
    public var explanation: String {
        let c = (confidence * 100).rounded() / 100
        return "confidence \(c): conflicts \(resolved ? "resolved" : "NOT resolved"), checks \(checksPassed ? "passed" : "FAILED"), "
            + "\(inventedLines) invented line(s) against a \(originalLines)-line change"
    }
}
