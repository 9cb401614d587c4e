import Foundation
import KeelCore
import KeelPipeline

/// `GET /items/{id}`: the page a needs_human alert links to. It shows why the item waits, its
/// figures, timeline and history, and how to answer; it changes nothing (answers are given with
/// `keel retry`, `keel reimplement` or `keel cancel`).
struct ItemPage {
    let detail: ItemDetail

    func html() -> String {
        let item = detail.item
        var body = "<h1>#\(item.id) \(HTML.escape(item.title))</h1>\n"
        body += "<p class=\"state\">State: <strong>\(HTML.escape(item.state))</strong></p>\n"
        if item.state == ItemState.needsHuman.rawValue, let last = detail.timeline.last {
            body += "<h2>Why it needs a person</h2>\n<p>\(HTML.escape(last.reason))</p>\n"
            body += "<p>Answer with one of:</p>\n<pre>keel retry \(item.id)          # another attempt, with the history\n"
            body += "keel reimplement \(item.id)    # start over from a fresh branch, with the history\n"
            body += "keel cancel \(item.id)         # drop it</pre>\n"
        }
        if let failure = detail.failure {
            body += "<h2>Last failure</h2>\n<p>Attempt \(failure.attempt), \(HTML.escape(failure.stage))"
            body += (failure.signature.map { " <code>\(HTML.escape($0))</code>" } ?? "") + ": \(HTML.escape(failure.summary))</p>\n"
            if !failure.evidence.isEmpty { body += "<pre class=\"evidence\">\(HTML.escape(failure.evidence))</pre>\n" }
        }
        body += "<h2>Figures</h2>\n<dl>\n"
        for (key, value) in [
            ("Repo", item.repo), ("Tenant", item.tenant), ("Attempts", String(item.attempts)), ("Spent", Money.format(item.costMicros)),
            ("Agent runs", String(item.agentRuns)), ("Agent time", String(format: "%.1f s", item.agentSeconds)),
            ("Branch", item.branch ?? "none"), ("Head", item.headSHA ?? "none"),
        ] {
            body += "<dt>\(key)</dt><dd>\(HTML.escape(value))</dd>\n"
        }
        body += "</dl>\n<h2>Timeline</h2>\n<ol>\n"
        for t in detail.timeline {
            body += "<li><code>\(HTML.escape(t.at))</code> \(HTML.escape(t.from ?? "new")) → <strong>\(HTML.escape(t.to))</strong>: "
            body += "\(HTML.escape(t.reason)) <em>(\(HTML.escape(t.actor)))</em></li>\n"
        }
        body += "</ol>\n<h2>History</h2>\n"
        if detail.history.isEmpty { body += "<p>No earlier attempts.</p>\n" }
        for h in detail.history {
            body += "<h3>Attempt \(h.attempt): \(HTML.escape(h.kind)) in \(HTML.escape(h.stage))"
            body += (h.signature.map { " <code>\(HTML.escape($0))</code>" } ?? "") + "</h3>\n"
            body += "<pre>\(HTML.escape(h.summary))</pre>\n"
        }
        return HTML.page(title: "Keel #\(item.id)", body: body)
    }
}
