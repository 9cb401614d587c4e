/// RFC 8785 JSON Canonicalization Scheme (JCS), written by hand: `JSONEncoder` escapes `/`
/// and its key order and number formatting are not canonical.
///
/// - Object members are sorted by the UTF-16 code units of their names (never by Swift
///   `String` comparison, which uses canonical equivalence).
/// - Strings are escaped exactly as RFC 8785 §3.2.2.2: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
///   `\t`, other controls as lowercase `\u00xx`; everything else, `/` included, is literal UTF-8.
/// - Numbers are IEEE doubles written as ECMAScript's `Number.prototype.toString`: integers
///   within ±(2^53 − 1) exactly, larger ones as their nearest double (`2**70` is
///   `1.1805916207174113e+21`). NaN and infinities have no JSON form and are refused.
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
        /// doubles as Python `repr` (`1.0`, `1e-05`, `1e+16`, `-0.0`), integers of any size with
        /// every digit (Python's `str(int)`: `2**70` is `1180591620717411303424`), and member
        /// names sorted by code point instead of UTF-16 code unit. It equals RFC 8785 for values
        /// whose integers stay within ±(2^53 − 1), with no doubles and names within the Basic
        /// Multilingual Plane, which is all Keel ever writes; it is only used to verify events
        /// that aiss wrote with such numbers or names in them.
        case aissPython
    }

    /// 2^53 − 1 (JavaScript's `Number.MAX_SAFE_INTEGER`): every integer up to it in magnitude
    /// is exactly a double, so both dialects write it digit for digit; beyond it RFC 8785 writes
    /// the nearest double and aiss every digit.
    public static let maxExactInteger: Int64 = (1 << 53) - 1

    /// The canonical UTF-8 bytes of `value` (RFC 8785).
    ///
    /// Throws ``LedgerError/Code-swift.struct/notCanonicalizable`` for NaN, an infinity, or a
    /// ``JSONValue/bigInteger(_:)`` that is no integer literal within the double range.
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
    /// a double, an integer beyond ±(2^53 − 1), or a member name outside the Basic Multilingual Plane.
    static func isDialectSensitive(_ value: JSONValue) -> Bool {
        switch value {
        case .null, .bool, .string: return false
        case .integer(let integer): return integer.magnitude > maxExactInteger.magnitude
        case .number, .bigInteger: return true
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
        case .bigInteger(let digits): try writeBigInteger(digits)
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
        if dialect == .rfc8785, integer.magnitude > CanonicalJSON.maxExactInteger.magnitude {
            // RFC 8785 numbers are doubles: the nearest one (Double(Int64) rounds to nearest even).
            output += ecmaScriptNumber(Double(integer))
            return
        }
        if integer >= 0, integer < 10 {
            output.append(UInt8(ascii: "0") + UInt8(integer))
            return
        }
        output += Array(String(integer).utf8)
    }

    /// An integer literal beyond 64 bits: the nearest double in RFC 8785, every digit as
    /// Python's `str(int)` writes it in aiss's dialect.
    mutating func writeBigInteger(_ digits: String) throws(LedgerError) {
        let body = digits.utf8.first == UInt8(ascii: "-") ? digits.utf8.dropFirst() : digits.utf8[...]
        guard let lead = body.first, lead != UInt8(ascii: "0"), body.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let double = Double(digits), double.isFinite
        else {
            throw LedgerError(
                .notCanonicalizable, "\"\(digits.prefix(60))\" is not an integer literal within the double range; parse it from JSON text")
        }
        switch dialect {
        case .rfc8785: output += ecmaScriptNumber(double)
        case .aissPython: output += Array(digits.utf8)
        }
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
