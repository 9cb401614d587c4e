import Foundation
import KeelCore

/// A person's decision on a break as posted to `/breaks/{id}/resolve`, from the page's form or as JSON.
struct DecisionRequest: Sendable {
    /// How the request came, and so how to answer: a browser gets pages and a redirect, a client gets JSON.
    enum Format: Sendable {
        case form
        case json
    }

    var decision: BreakDecision
    var by: String
    var note: String?

    /// The fields as they arrived, before they are checked: the token is checked before the fields
    /// are, so that an unauthenticated caller learns nothing about what a valid request looks like.
    struct Fields: Sendable {
        var decision: String?
        var by: String?
        var note: String?
        /// The `token` form field; JSON clients send the token only as `Authorization: Bearer`.
        var formToken: String?

        /// Parses `body` as `format`.
        static func parse(_ body: [UInt8], as format: Format) throws(ServerError) -> Fields {
            guard let text = String(validating: body, as: UTF8.self) else {
                throw ServerError(.invalidRequest, "the request body is not UTF-8 text")
            }
            switch format {
            case .form: return try form(text)
            case .json: return try json(text)
            }
        }

        static func form(_ text: String) throws(ServerError) -> Fields {
            var values: [String: String] = [:]
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = decodeFormComponent(parts[0]), let value = decodeFormComponent(parts.count > 1 ? parts[1] : "") else {
                    throw ServerError(.invalidRequest, "the form body is not valid application/x-www-form-urlencoded text")
                }
                // Two values for one field are ambiguous: refuse rather than guess which one the person meant.
                guard values[name] == nil else {
                    throw ServerError(.invalidRequest, "the field `\(name)` is given twice: send each field once")
                }
                values[name] = value
            }
            return Fields(decision: values["decision"], by: values["by"], note: values["note"], formToken: values["token"])
        }

        static func json(_ text: String) throws(ServerError) -> Fields {
            struct Body: Decodable {
                var decision: String?
                var by: String?
                var note: String?
            }
            do {
                let body = try JSONDecoder().decode(Body.self, from: Data(text.utf8))
                return Fields(decision: body.decision, by: body.by, note: body.note, formToken: nil)
            } catch {
                throw ServerError(
                    .invalidRequest, #"the body is not a JSON object {"decision": "validate|ignore|reject", "by": "NAME", "note": "TEXT"}"#,
                    underlying: error)
            }
        }

        private static func decodeFormComponent(_ raw: Substring) -> String? {
            raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }

        /// The checked request: a known decision and a name.
        func validated() throws(ServerError) -> DecisionRequest {
            let choices = BreakDecision.allCases.map(\.rawValue).joined(separator: ", ")
            guard let raw = decision?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else {
                throw ServerError(.invalidRequest, "the field `decision` is missing: choose one of \(choices)")
            }
            guard let choice = BreakDecision(rawValue: raw) else {
                throw ServerError(.invalidRequest, "the field `decision` must be one of \(choices), not \"\(raw.prefix(40))\"")
            }
            guard let person = by?.trimmingCharacters(in: .whitespacesAndNewlines), !person.isEmpty else {
                throw ServerError(.invalidRequest, "the field `by` is missing: a decision names the person who made it")
            }
            let text = note?.trimmingCharacters(in: .whitespacesAndNewlines)
            return DecisionRequest(decision: choice, by: person, note: text?.isEmpty == false ? text : nil)
        }
    }
}
