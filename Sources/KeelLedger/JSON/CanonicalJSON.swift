/// RFC 8785 JSON Canonicalization Scheme (JCS), written by hand: `JSONEncoder` escapes `/`
/// and its key order and number formatting are not canonical.
///
/// - Object members are sorted by the UTF-16 code units of their names (never by Swift
///   `String` comparison, which uses canonical equivalence).
/// - Strings are escaped exactly as RFC 8785 §3.2.2.2: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
///   `\t`, other controls as lowercase `\u00xx`; everything else, `/` included, is literal UTF-8.
/// - Doubles are written as ECMAScript's `Number.prototype.toString`; integers exactly.
///   NaN and infinities have no JSON form and are refused.
///
/// ```swift
/// let bytes = try CanonicalJSON.encode(["b": 2, "a": [true, nil, "x/y"]])
/// // {"a":[true,null,"x/y"],"b":2}
/// ```
public enum CanonicalJSON {
    /// Where a canonical form departs from RFC 8785.
    public enum Dialect: Sendable, Hashable {
        /// RFC 8785 exactly. Keel writes and hashes in this form.
        case rfc8785
        /// The form that the reference implementation `aiss-standard` (Python) actually writes:
        /// doubles as Python `repr` (`1.0`, `1e-05`, `1e+16`, `-0.0`) and member names sorted by
        /// code point instead of UTF-16 code unit. It equals RFC 8785 for integer-only values
        /// whose names stay within the Basic Multilingual Plane, which is all Keel ever writes;
        /// it is only used to verify events that aiss wrote with doubles in them.
        case aissPython
    }

    /// The canonical UTF-8 bytes of `value` (RFC 8785).
    ///
    /// Throws ``LedgerError/Code-swift.struct/notCanonicalizable`` for NaN or an infinity.
    public static func encode(_ value: JSONValue) throws(LedgerError) -> [UInt8] {
        try encode(value, dialect: .rfc8785)
    }

    /// The canonical UTF-8 bytes of `value` in `dialect`.
    public static func encode(_ value: JSONValue, dialect: Dialect) throws(LedgerError) -> [UInt8] {
        var writer = CanonicalWriter(dialect: dialect)
        try writer.write(value)
        return writer.output
    }

    /// The canonical bytes of `value` as a string (see ``encode(_:)``).
    public static func text(_ value: JSONValue) throws(LedgerError) -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    /// Whether `value` holds anything whose canonical form differs between dialects:
    /// a double, or a member name outside the Basic Multilingual Plane.
    static func isDialectSensitive(_ value: JSONValue) -> Bool {
        switch value {
        case .null, .bool, .integer, .string: return false
        case .number: return true
        case .array(let elements): return elements.contains(where: isDialectSensitive)
        case .object(let members):
            for (key, member) in members {
                if key.string.unicodeScalars.contains(where: { $0.value > 0xFFFF }) { return true }
                if isDialectSensitive(member) { return true }
            }
            return false
        }
    }
}

struct CanonicalWriter {
    let dialect: CanonicalJSON.Dialect
    var output: [UInt8] = []

    init(dialect: CanonicalJSON.Dialect) {
        self.dialect = dialect
        output.reserveCapacity(512)
    }

    mutating func write(_ value: JSONValue) throws(LedgerError) {
        switch value {
        case .null: output += [0x6E, 0x75, 0x6C, 0x6C]  // null
        case .bool(let flag): output += flag ? Array("true".utf8) : Array("false".utf8)
        case .integer(let integer): writeInteger(integer)
        case .number(let double):
            guard double.isFinite else {
                throw LedgerError(
                    .notCanonicalizable,
                    "\(double) has no JSON form (RFC 8785 refuses NaN and infinities); store it as an integer or a string"
                )
            }
            switch dialect {
            case .rfc8785: output += ecmaScriptNumber(double)
            case .aissPython: output += pythonFloatRepr(double)
            }
        case .string(let string): writeString(string)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                try write(element)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (offset, key) in sortedKeys(members).enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                writeString(key.string)
                output.append(UInt8(ascii: ":"))
                try write(members[key]!)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    func sortedKeys(_ members: JSONObject) -> [JSONKey] {
        switch dialect {
        case .rfc8785:
            return members.keys.sorted()  // JSONKey's < compares UTF-16 code units
        case .aissPython:
            // Python sorts str by code point, which is UTF-8 byte order.
            return members.keys.sorted { $0.string.utf8.lexicographicallyPrecedes($1.string.utf8) }
        }
    }

    mutating func writeInteger(_ integer: Int64) {
        if integer >= 0, integer < 10 {
            output.append(UInt8(ascii: "0") + UInt8(integer))
            return
        }
        output += Array(String(integer).utf8)
    }

    mutating func writeString(_ string: String) {
        output.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): output += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: output += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: output += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: output += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: output += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: output += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x00..<0x20:
                output += Array("\\u00".utf8)
                output += Array(hexByte(byte).utf8)
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
