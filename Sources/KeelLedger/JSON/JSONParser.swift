extension JSONValue {
    /// The deepest nesting of arrays and objects that ``parse(_:maxDepth:)`` accepts by default.
    public static let defaultMaxDepth = 128

    /// Parses one JSON text (RFC 8259) strictly.
    ///
    /// Refused, with the line and column: invalid UTF-8 (overlong forms, surrogates, a byte
    /// order mark), raw control characters in strings, lone `\u` surrogates, a repeated member
    /// name in one object (names compared byte for byte), numbers outside the grammar or
    /// beyond the double range, nesting deeper than `maxDepth`, and anything after the value.
    /// An integer literal that fits in an `Int64` stays `.integer`, a longer one keeps its digits
    /// (`.bigInteger`); other numbers are `.number`.
    ///
    /// ```swift
    /// let value = try JSONValue.parse(Array(#"{"seq": 3, "cost": 1.5}"#.utf8))
    /// value["seq"]   // .integer(3)
    /// ```
    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth) throws(LedgerError) -> JSONValue {
        let buffer = Array(bytes)
        return try buffer.withUnsafeBufferPointer { (pointer) throws(LedgerError) -> JSONValue in
            var parser = JSONParser(bytes: pointer, maxDepth: maxDepth)
            return try parser.parseDocument()
        }
    }

    /// Parses a JSON text held in a string (see ``parse(_:maxDepth:)``).
    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(LedgerError) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }
}

/// A recursive-descent parser over UTF-8 bytes.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var position = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(LedgerError) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            throw failure("the text starts with a UTF-8 byte order mark, which JSON does not allow; remove it", at: 0)
        }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if position != bytes.count {
            throw failure("unexpected \(describeByte(at: position)) after the end of the JSON value", at: position)
        }
        return value
    }

    // MARK: values

    mutating func parseValue() throws(LedgerError) -> JSONValue {
        guard position < bytes.count else { throw failure("the text ends where a value was expected", at: position) }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure("unexpected \(describeByte(at: position)) where a value was expected", at: position)
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(LedgerError) {
        let start = position
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else {
            throw failure("unknown literal (expected `\(literal)`)", at: start)
        }
        let pointer = literal.utf8Start
        for offset in 0..<count where bytes[position + offset] != pointer[offset] {
            throw failure("unknown literal (expected `\(literal)`)", at: start)
        }
        position += count
    }

    mutating func enterContainer() throws(LedgerError) {
        depth += 1
        if depth > maxDepth {
            throw failure("arrays and objects are nested more than \(maxDepth) deep", at: position)
        }
    }

    mutating func parseObject() throws(LedgerError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        position += 1  // {
        var members = JSONObject()
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw failure(
                    position < bytes.count
                        ? "expected a member name in quotes, found \(describeByte(at: position))" : "the text ends inside an object", at: position)
            }
            let keyStart = position
            let key = JSONKey(try parseString())
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw failure("expected `:` after the member name \"\(key.string)\"", at: position)
            }
            position += 1
            skipWhitespace()
            let value = try parseValue()
            if members.updateValue(value, forKey: key) != nil {
                throw failure("the member name \"\(key.string)\" appears twice in one object", at: keyStart)
            }
            skipWhitespace()
            guard position < bytes.count else { throw failure("the text ends inside an object", at: position) }
            switch bytes[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(members)
            default: throw failure("expected `,` or `}` in an object, found \(describeByte(at: position))", at: position)
            }
        }
    }

    mutating func parseArray() throws(LedgerError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else { throw failure("the text ends inside an array", at: position) }
            switch bytes[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            default: throw failure("expected `,` or `]` in an array, found \(describeByte(at: position))", at: position)
            }
        }
    }

    // MARK: numbers

    mutating func parseNumber() throws(LedgerError) -> JSONValue {
        let start = position
        var isInteger = true
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, isDigit(bytes[position]) else {
            throw failure("a number needs a digit after `-`", at: start)
        }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, isDigit(bytes[position]) {
                throw failure("a number may not have a leading zero", at: start)
            }
        } else {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw failure("a number needs a digit after the decimal point", at: start)
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw failure("a number needs a digit in its exponent", at: start)
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        if isInteger, let integer = Int64(text) {
            return .integer(integer)
        }
        guard let double = Double(text), double.isFinite else {
            throw failure("the number \(text) is beyond the range of a double", at: start)
        }
        return isInteger ? .bigInteger(text) : .number(double)
    }

    func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    // MARK: strings

    mutating func parseString() throws(LedgerError) -> String {
        let start = position
        position += 1  // opening quote
        // Runs of plain bytes are copied at once; escapes are decoded in between.
        var runStart = position
        var output: [UInt8] = []
        while true {
            guard position < bytes.count else { throw failure("the text ends inside a string", at: start) }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
                position += 1
                break
            }
            if byte == UInt8(ascii: "\\") {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
                let scalar = try parseEscape()
                appendUTF8(scalar, to: &output)
                runStart = position
                continue
            }
            if byte < 0x20 {
                throw failure(
                    "a raw control character (0x\(hexByte(byte))) inside a string; write it as an escape such as \\n or \\u00\(hexByte(byte))",
                    at: position)
            }
            if byte < 0x80 {
                position += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        // Every byte was validated above, so decoding cannot repair anything.
        return String(decoding: output, as: UTF8.self)
    }

    /// Validates one multi-byte UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
    mutating func skipUTF8Sequence() throws(LedgerError) {
        let lead = bytes[position]
        let length: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upperBound = 0x9F
        case 0xF0: length = 4; lowerBound = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upperBound = 0x8F
        default: throw failure("invalid UTF-8 byte 0x\(hexByte(lead)) in a string", at: position)
        }
        guard bytes.count - position >= length else { throw failure("a truncated UTF-8 sequence in a string", at: position) }
        let second = bytes[position + 1]
        guard second >= lowerBound, second <= upperBound else {
            throw failure("invalid UTF-8 sequence in a string (byte 0x\(hexByte(second)) after 0x\(hexByte(lead)))", at: position)
        }
        for offset in 2..<max(2, length) {
            let next = bytes[position + offset]
            guard next >= 0x80, next <= 0xBF else {
                throw failure("invalid UTF-8 sequence in a string (byte 0x\(hexByte(next)))", at: position)
            }
        }
        position += length
    }

    mutating func parseEscape() throws(LedgerError) -> Unicode.Scalar {
        let start = position
        position += 1  // backslash
        guard position < bytes.count else { throw failure("the text ends inside an escape", at: start) }
        let byte = bytes[position]
        position += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try parseHex4(escapeStart: start)
            if (0xD800...0xDBFF).contains(unit) {
                guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                    throw failure("a lone high surrogate \\u\(hex4(unit)) (not followed by a low surrogate)", at: start)
                }
                position += 2
                let low = try parseHex4(escapeStart: start)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw failure("a high surrogate \\u\(hex4(unit)) followed by \\u\(hex4(low)), which is not a low surrogate", at: start)
                }
                let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                return Unicode.Scalar(value)!
            }
            if (0xDC00...0xDFFF).contains(unit) {
                throw failure("a lone low surrogate \\u\(hex4(unit))", at: start)
            }
            return Unicode.Scalar(unit)!
        default:
            throw failure("an unknown escape \\\(describeByte(at: position - 1))", at: start)
        }
    }

    mutating func parseHex4(escapeStart: Int) throws(LedgerError) -> UInt16 {
        guard bytes.count - position >= 4 else { throw failure("a \\u escape needs four hex digits", at: escapeStart) }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("a \\u escape needs four hex digits", at: escapeStart)
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    func appendUTF8(_ scalar: Unicode.Scalar, to output: inout [UInt8]) {
        UTF8.encode(scalar) { output.append($0) }
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    // MARK: errors

    func describeByte(at offset: Int) -> String {
        guard offset < bytes.count else { return "end of text" }
        let byte = bytes[offset]
        if byte >= 0x21, byte < 0x7F { return "`\(Character(Unicode.Scalar(byte)))`" }
        return "byte 0x\(hexByte(byte))"
    }

    func failure(_ what: String, at offset: Int) -> LedgerError {
        var line = 1
        var column = 1
        for index in 0..<min(offset, bytes.count) {
            if bytes[index] == 0x0A {
                line += 1
                column = 1
            } else if bytes[index] & 0xC0 != 0x80 {
                column += 1
            }
        }
        return LedgerError(.invalidJSON, "invalid JSON: \(what) (line \(line), column \(column), byte offset \(offset))")
    }
}

func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}

func hex4(_ unit: UInt16) -> String {
    hexByte(UInt8(unit >> 8)) + hexByte(UInt8(unit & 0xFF))
}
