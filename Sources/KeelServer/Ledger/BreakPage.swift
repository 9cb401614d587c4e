import Foundation
import KeelCore
import KeelStore

/// `GET /breaks/{id}`: what a person needs to decide on a break, linked from every alert.
struct BreakPage: Sendable {
    var record: LedgerBreakRecord
    /// The stamped event at the break's `seq`, if one is stored there.
    var eventAtSeq: LedgerEventRecord?
    /// The break's `chain_break_detected` stamp.
    var detectionStamp: LedgerEventRecord?
    /// Whether the server can accept a decision (an admin token is configured).
    var acceptsDecisions: Bool
    var now: Date

    /// What each choice means, in the words the page and the CLI's help use.
    static let choices: [(BreakDecision, String, String)] = [
        (.validate, "Validate", "the break is explained and acceptable; the chain counts as valid again."),
        (.ignore, "Ignore", "acknowledged without an explanation; the chain stays flagged."),
        (.reject, "Reject", "a confirmed anomaly; the chain stays flagged."),
    ]

    func html() -> String {
        let id = record.id
        var body = "<h1>Break #\(id): \(HTML.escape(record.kind))</h1>\n"
        body += state()
        body += "<h2>The break</h2>\n<dl>\n"
        body += row("Kind", "<code>\(HTML.escape(record.kind))</code>")
        body += row("Where", record.seq.map { "seq \($0)" } ?? "the ledger as a whole (no single position)")
        body += row("Detected at", time(record.detectedAt))
        body += row("Deadline", "\(time(record.deadline)) (\(HTML.escape(timeLeft())))")
        body += row("Expected", "<code>\(HTML.escape(record.expected))</code>")
        body += row("Found", "<code>\(HTML.escape(record.found))</code>")
        body += row("Message", HTML.escape(record.message))
        body += "</dl>\n"
        body += evidence()
        body += "<h2>Decision</h2>\n"
        body += record.decision == nil ? form() : decision()
        return HTML.page(title: "Break #\(id) · \(record.kind) · Keel ledger", body: body)
    }

    private func state() -> String {
        if let decision = record.decision {
            let flagged = decision != BreakDecision.validate.rawValue
            return #"<p class="state \#(flagged ? "declared" : "valid")">Decided: <strong>\#(HTML.escape(decision))</strong> by \#(HTML.escape(record.decidedBy ?? "?")). "#
                + (flagged ? "The chain stays flagged for this break." : "This break no longer flags the chain.") + "</p>\n"
        }
        if record.timeoutSeq != nil || now >= record.deadline {
            return #"<p class="state declared">No decision before the deadline: the chain is <code>broken_declared</code>"#
                + (record.timeoutSeq.map { " (<code>timeout_no_action</code> stamped at seq \($0))" } ?? "")
                + ". A decision can still be recorded.</p>\n"
        }
        return #"<p class="state pending">Waiting for a decision: the chain is <code>break_pending</code>, \#(HTML.escape(timeLeft())).</p>"#
            + "\n"
    }

    private func evidence() -> String {
        var out = "<h2>Evidence</h2>\n"
        if let seq = record.seq {
            out += "<h3>The event stored at seq \(seq)</h3>\n"
            if let event = eventAtSeq {
                out += "<p class=\"hint\">Exactly as stored in <code>ledger_events</code> (kind <code>\(HTML.escape(event.kind))</code>).</p>\n"
                out += "<pre>\(HTML.escape(event.event))</pre>\n"
            } else {
                out += "<p>No event is stored at seq \(seq) (a missing event can itself be the break).</p>\n"
            }
        } else {
            out += "<p>This break is about the ledger as a whole, not one event.</p>\n"
        }
        if let stamp = detectionStamp {
            out += "<h3>The detection stamp at seq \(stamp.seq) (<code>\(HTML.escape(stamp.kind))</code>)</h3>\n"
            out += "<pre>\(HTML.escape(stamp.event))</pre>\n"
        } else if let seq = record.detectionSeq {
            out += "<h3>The detection stamp</h3>\n<p>No event is stored at seq \(seq), where the detection was stamped.</p>\n"
        }
        return out
    }

    private func decision() -> String {
        var out = "<dl>\n"
        out += row("Decision", "<strong>\(HTML.escape(record.decision ?? ""))</strong>")
        out += row("By", HTML.escape(record.decidedBy ?? "?"))
        if let at = record.decidedAt { out += row("At", time(at)) }
        out += row("Note", record.note.map(HTML.escape) ?? "<em>none</em>")
        if let seq = record.resolutionSeq { out += row("Stamp", "<code>chain_break_resolution</code> at seq \(seq)") }
        return out + "</dl>\n<p class=\"hint\">A break takes one decision; it cannot be changed.</p>\n"
    }

    private func form() -> String {
        var out = ""
        if !acceptsDecisions {
            out += #"<p class="state declared">This server has no admin token, so it cannot record a decision: set the environment variable "#
                + "named by <code>server.admin_token_env</code> in keel.yml (default <code>KEEL_ADMIN_TOKEN</code>) and restart "
                + "<code>keel run</code>.</p>\n"
        }
        out += "<form method=\"post\" action=\"/breaks/\(record.id)/resolve\">\n<fieldset>\n<legend>Your decision</legend>\n"
        for (index, (choice, label, meaning)) in Self.choices.enumerated() {
            out += "<label><input type=\"radio\" name=\"decision\" value=\"\(choice.rawValue)\"\(index == 0 ? " required" : "")> "
                + "<strong>\(label)</strong>: \(HTML.escape(meaning))</label>\n"
        }
        out += "</fieldset>\n"
        out += "<label>Your name <input type=\"text\" name=\"by\" required autocomplete=\"name\"></label>\n"
        out += "<label>Note (optional) <textarea name=\"note\" rows=\"3\"></textarea></label>\n"
        out += "<label>Admin token <input type=\"password\" name=\"token\" required autocomplete=\"off\"></label>\n"
        out += "<button type=\"submit\">Record the decision</button>\n</form>\n"
        out += "<p class=\"hint\">The decision is signed into the ledger as a <code>chain_break_resolution</code> stamp naming you, "
            + "and cannot be changed. From a shell: <code>keel ledger resolve \(record.id) --decision validate|ignore|reject --by NAME "
            + "[--note TEXT]</code>.</p>\n"
        return out
    }

    private func row(_ term: String, _ html: String) -> String {
        "<dt>\(term)</dt><dd>\(html)</dd>\n"
    }

    private func time(_ date: Date) -> String {
        let text = HTML.escape(Timestamp.text(date))
        return "<time datetime=\"\(text)\">\(text)</time>"
    }

    private func timeLeft() -> String {
        if record.decision != nil { return "decided" }
        let seconds = record.deadline.timeIntervalSince(now)
        return seconds > 0 ? "\(Self.span(seconds)) left" : "passed \(Self.span(-seconds)) ago"
    }

    /// A duration as a person reads it: `2 d 3 h`, `5 h 12 min`, `4 min`, `under a minute`.
    static func span(_ seconds: TimeInterval) -> String {
        let total = Int(min(max(seconds, 0), 1e12).rounded(.down))
        let days = total / 86_400, hours = total % 86_400 / 3_600, minutes = total % 3_600 / 60
        if days > 0 { return "\(days) d \(hours) h" }
        if hours > 0 { return "\(hours) h \(minutes) min" }
        if minutes > 0 { return "\(minutes) min" }
        return "under a minute"
    }

    /// A page for a refused request, with a way back to the break when there is one.
    static func refusal(_ error: ServerError, breakID: Int64?) -> String {
        var body = "<h1>\(HTML.escape(error.code.title))</h1>\n<p>\(HTML.escape(error.message))</p>\n"
        if let breakID { body += "<p><a href=\"/breaks/\(breakID)\">Back to break #\(breakID)</a></p>\n" }
        return HTML.page(title: "\(error.code.title) · Keel ledger", body: body)
    }
}
