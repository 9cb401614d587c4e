import KeelCore
import Yams

/// One value in `keel.yml` together with where it sits, so every complaint about it can name the
/// file, the line and the full dotted key.
///
/// The loader walks Yams' composed `Node` tree by hand instead of decoding with Codable: Codable
/// loses line numbers and lets unknown keys through, and both matter more here than brevity.
struct ConfigNode {
    let file: String
    /// The full dotted key, e.g. `scheduler.backoff.jitter` or `ci.commands[0]`.
    let key: String
    let node: Node
    /// The line of the key this value belongs to (or of the item, inside a list).
    let keyLine: Int?

    /// Where a problem with this value is reported: a scalar's own line (it may follow its key on
    /// the next line), otherwise the key's line, since a block mapping or list starts below it.
    var line: Int? {
        if case .scalar(let scalar) = node {
            return scalar.mark?.line ?? keyLine
        }
        return keyLine ?? node.mark?.line
    }

    /// `true` for an empty value, `~` or `null` written without quotes.
    var isNull: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func error(_ code: ConfigError.Code = .invalidValue, _ message: String) -> ConfigError {
        ConfigError(code: code, file: file, line: line, key: key.isEmpty ? nil : key, message: message)
    }

    /// `expected <what>, found <this value>`.
    func expected(_ what: String) -> ConfigError {
        error(.invalidValue, "expected \(what), found \(found)")
    }

    /// This value as a person would point at it in an error message.
    var found: String {
        if isNull {
            return "nothing"
        }
        switch node {
        case .scalar(let scalar):
            // Numbers read better bare (`found 65`); anything else is quoted so spaces and "" stay visible.
            if scalar.style == .plain, Double(scalar.string) != nil {
                return scalar.string
            }
            var text = scalar.string
            if text.count > 60 {
                text = String(text.prefix(57)) + "..."
            }
            return ConfigTemplate.quoted(text)
        case .mapping:
            return "a mapping"
        case .sequence:
            return "a list"
        case .alias:
            return "an alias"
        }
    }

    /// The text of a scalar that is not null; numbers and booleans count, as their text.
    func text() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node, !isNull else {
            throw expected("a string")
        }
        return scalar.string
    }

    /// The text of a scalar, refusing an empty string.
    func nonEmptyText(_ what: String = "a non-empty string") throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node, !isNull, !scalar.string.isEmpty else {
            throw expected(what)
        }
        return scalar.string
    }

    /// A decimal integer within `range`.
    func integer(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let what: String
        if range.upperBound == Int.max {
            what = "an integer of at least \(range.lowerBound)"
        } else {
            what = "an integer from \(range.lowerBound) to \(range.upperBound)"
        }
        guard case .scalar(let scalar) = node, let value = Int(scalar.string), range.contains(value) else {
            throw expected(what)
        }
        return value
    }

    /// A finite decimal number within `range`.
    func number(in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let what = "a number from \(ConfigNode.format(range.lowerBound)) to \(ConfigNode.format(range.upperBound))"
        guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite, range.contains(value) else {
            throw expected(what)
        }
        return value
    }

    /// A USD amount (`5`, `0.50`), as integer micro-USD.
    func usd() throws(ConfigError) -> Micros {
        guard case .scalar(let scalar) = node, let micros = Money.micros(parsingUSD: scalar.string) else {
            throw expected("an amount in USD, e.g. 5 or 0.50")
        }
        return micros
    }

    /// The name of an environment variable (`[A-Za-z_][A-Za-z0-9_]*`), as the `*_env` keys hold.
    ///
    /// A wrong value is not repeated in the error: it is often the secret itself, pasted where the
    /// name of its variable belongs, and errors end up in logs.
    func environmentVariableName() throws(ConfigError) -> String {
        let what = "the name of an environment variable (letters, digits and _, not starting with a digit)"
        guard case .scalar(let scalar) = node, !isNull else {
            throw expected(what)
        }
        guard ConfigNode.isEnvironmentVariableName(scalar.string) else {
            throw error(.invalidValue, "expected \(what), found text that is not one (not shown here: it may be the secret itself)")
        }
        return scalar.string
    }

    static func isEnvironmentVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    /// An `http://` or `https://` URL naming a host, without spaces; with `trimmingTrailingSlashes`,
    /// trailing slashes are removed so paths can be appended to it.
    func httpURL(trimmingTrailingSlashes: Bool = false) throws(ConfigError) -> String {
        let what = "an http:// or https:// URL"
        guard case .scalar(let scalar) = node, !isNull else {
            throw expected(what)
        }
        var text = scalar.string
        let lowercased = text.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lowercased.hasPrefix($0) }),
            let hostStart = text.dropFirst(scheme.count).first, hostStart != "/",
            !text.contains(where: \.isWhitespace)
        else {
            throw expected(what)
        }
        // The first character after the scheme is not a slash, so this never eats into the host.
        while trimmingTrailingSlashes, text.hasSuffix("/") {
            text.removeLast()
        }
        return text
    }

    /// Text containing `@`: an address, or a display name with one (`Keel <keel@example.com>`).
    func emailAddress() throws(ConfigError) -> String {
        let what = "an email address (containing \"@\")"
        let text = try nonEmptyText(what)
        guard text.contains("@") else {
            throw expected(what)
        }
        return text
    }

    /// One of a fixed set of words, e.g. an agent kind.
    func choice<Choice: RawRepresentable & CaseIterable>(_: Choice.Type, noun: String) throws(ConfigError) -> Choice
    where Choice.RawValue == String {
        let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        guard case .scalar(let scalar) = node, !isNull else {
            throw expected("one of \(allowed)")
        }
        guard let value = Choice(rawValue: scalar.string) else {
            throw error(.invalidValue, "unknown \(noun) \(ConfigTemplate.quoted(scalar.string)); expected one of \(allowed)")
        }
        return value
    }

    /// The items of a list; `nil` (`key:` with no value) reads as an empty list.
    func items() throws(ConfigError) -> [ConfigNode] {
        if isNull {
            return []
        }
        guard case .sequence(let sequence) = node else {
            throw expected("a list")
        }
        return sequence.enumerated().map { index, item in
            ConfigNode(file: file, key: "\(key)[\(index)]", node: item, keyLine: item.mark?.line)
        }
    }

    /// This value as a mapping whose keys must all be in `allowed`; `nil` reads as an empty mapping.
    /// A key in `secrets` gets an error saying which `*_env` key to write instead.
    func mapping(allowed: [String], secrets: [SecretKey] = []) throws(ConfigError) -> ConfigMapping {
        let mapping = try entries()
        for (name, entry) in mapping.ordered where !allowed.contains(name) {
            if let secret = secrets.first(where: { $0.name == name }) {
                // The value is not quoted back: it is the secret.
                let message =
                    "secrets are never written in keel.yml; put this one in an environment variable"
                    + " and name the variable with \(secret.envKey), e.g. \(secret.envKey): \(secret.example)"
                throw ConfigError(code: .unknownKey, file: file, line: entry.keyLine, key: entry.key, message: message)
            }
            var message = "unknown key; expected one of \(allowed.joined(separator: ", "))"
            if let suggestion = ConfigNode.closest(to: name, in: allowed) {
                message += " (did you mean \(suggestion)?)"
            }
            throw ConfigError(code: .unknownKey, file: file, line: entry.keyLine, key: entry.key, message: message)
        }
        return mapping
    }

    /// This value as a mapping with any keys (e.g. `agent.env`); `nil` reads as an empty mapping.
    func entries() throws(ConfigError) -> ConfigMapping {
        let missingKeyLine = keyLine ?? node.mark?.line
        if isNull {
            return ConfigMapping(file: file, key: key, line: missingKeyLine, ordered: [])
        }
        guard case .mapping(let mapping) = node else {
            throw expected("a mapping of keys to values")
        }
        var ordered: [(String, ConfigNode)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                let odd = ConfigNode(file: file, key: key, node: keyNode, keyLine: keyNode.mark?.line)
                throw odd.error(.invalidValue, "expected a plain key name, found \(odd.found) used as a key")
            }
            let fullKey = key.isEmpty ? scalar.string : "\(key).\(scalar.string)"
            ordered.append((scalar.string, ConfigNode(file: file, key: fullKey, node: value, keyLine: scalar.mark?.line)))
        }
        return ConfigMapping(file: file, key: key, line: missingKeyLine, ordered: ordered)
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// The allowed key a typo most likely meant: within two edits, or one letter for short keys.
    static func closest(to name: String, in allowed: [String]) -> String? {
        let scored = allowed.map { ($0, editDistance(name.lowercased(), $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let limit = min(2, max(1, best.0.count / 3))
        return best.1 <= limit ? best.0 : nil
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A key that would put a secret in `keel.yml` (`password:`), and the `*_env` key that names the
/// environment variable holding it instead (`password_env:`).
struct SecretKey {
    /// The key written by habit, e.g. `password`.
    let name: String
    /// The key to write instead, e.g. `password_env`.
    let envKey: String
    /// A variable name to show in the message, e.g. `KEEL_SMTP_PASSWORD`.
    let example: String
}

/// The entries of one mapping in `keel.yml`, in file order.
struct ConfigMapping {
    let file: String
    /// The mapping's own dotted key; empty for the top level.
    let key: String
    /// The line reported when a required key is missing: the line of the key that opened this mapping.
    let line: Int?
    let ordered: [(String, ConfigNode)]

    /// The value of `name`, or `nil` when it is absent or written with no value (so the default applies).
    func optional(_ name: String) -> ConfigNode? {
        guard let value = present(name), !value.isNull else { return nil }
        return value
    }

    /// The value of `name`, present even if empty; absence is an error that says what belongs there.
    func required(_ name: String, _ what: String) throws(ConfigError) -> ConfigNode {
        guard let value = present(name) else {
            let fullKey = key.isEmpty ? name : "\(key).\(name)"
            throw ConfigError(code: .missingKey, file: file, line: line, key: fullKey, message: "missing required key: \(what)")
        }
        return value
    }

    /// A sub-mapping that may be left out entirely; its keys must be in `allowed`.
    func section(_ name: String, allowed: [String], secrets: [SecretKey] = []) throws(ConfigError) -> ConfigMapping {
        guard let value = present(name) else {
            let fullKey = key.isEmpty ? name : "\(key).\(name)"
            return ConfigMapping(file: file, key: fullKey, line: line, ordered: [])
        }
        return try value.mapping(allowed: allowed, secrets: secrets)
    }

    /// A sub-mapping whose presence turns something on (an alert channel, the ledger backup): `nil`
    /// when absent. Written with no value it is present and empty, so its defaults apply.
    func optionalSection(_ name: String, allowed: [String], secrets: [SecretKey] = []) throws(ConfigError) -> ConfigMapping? {
        guard let value = present(name) else { return nil }
        return try value.mapping(allowed: allowed, secrets: secrets)
    }

    private func present(_ name: String) -> ConfigNode? {
        ordered.first { $0.0 == name }?.1
    }
}
