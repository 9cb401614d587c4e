/// A JSON value as the ledger hashes and signs it.
///
/// Integer literals that fit in 64 bits stay integers (`.integer`), so money and sequence
/// numbers survive parsing exactly; longer integer literals keep their digits (`.bigInteger`),
/// because RFC 8785 and the reference implementation hash them differently; every other number
/// is an IEEE 754 double (`.number`).
/// Equality compares strings and keys by their exact bytes, never by Unicode canonical
/// equivalence: two values are equal only when they canonicalize to the same bytes.
///
/// ```swift
/// let payload: JSONValue = ["event_type": "cost_event", "seq": 7, "cost_micros": 1_250_000]
/// let bytes = try CanonicalJSON.encode(payload)   // {"cost_micros":1250000,"event_type":"cost_event","seq":7}
/// ```
public indirect enum JSONValue: Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number written without fraction or exponent that fits in an `Int64`.
    case integer(Int64)
    /// A number written without fraction or exponent beyond `Int64`, digit for digit as
    /// written: an optional `-`, then digits without a leading zero (`"12345678901234567890123"`).
    /// RFC 8785 writes it as its nearest double, `aiss-standard` with every digit (see
    /// ``CanonicalJSON/Dialect``).
    case bigInteger(String)
    /// Any other number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object; keys compare by their exact bytes (see ``JSONKey``).
    case object(JSONObject)
}

/// A JSON object: member names to values.
public typealias JSONObject = [JSONKey: JSONValue]

/// An object member name that compares by its exact UTF-8 bytes and sorts by UTF-16 code
/// units, as RFC 8785 requires.
///
/// Swift's `String` equality treats "é" (U+00E9) and "e\u{301}" as equal; JSON, JavaScript,
/// Python and RFC 8785 treat them as two different names. A `[String: JSONValue]` would
/// silently merge them, so objects are keyed by `JSONKey` instead.
///
/// ```swift
/// let object: JSONObject = ["\u{e9}": 1, "e\u{301}": 2]   // two members
/// ```
public struct JSONKey: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The member name.
    public let string: String

    /// Wraps `string` as a member name.
    public init(_ string: String) {
        self.string = string
    }

    /// Wraps a string literal as a member name.
    public init(stringLiteral value: String) {
        self.string = value
    }

    /// Byte-for-byte equality of the names ("é" and "e\u{301}" differ).
    public static func == (lhs: JSONKey, rhs: JSONKey) -> Bool {
        exactlyEqual(lhs.string, rhs.string)
    }

    /// Hashes the name's UTF-8 bytes.
    public func hash(into hasher: inout Hasher) {
        hashBytes(of: string, into: &hasher)
    }

    /// RFC 8785 §3.2.3 order: lexicographic over UTF-16 code units.
    public static func < (lhs: JSONKey, rhs: JSONKey) -> Bool {
        lhs.string.utf16.lexicographicallyPrecedes(rhs.string.utf16)
    }

    /// The name itself.
    public var description: String { string }
}

/// Byte equality of two strings (no canonical equivalence).
func exactlyEqual(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.elementsEqual(rhs.utf8)
}

func hashBytes(of string: String, into hasher: inout Hasher) {
    let done: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    if done == nil {
        for byte in string.utf8 { hasher.combine(byte) }
    }
    hasher.combine(0xFF as UInt8)  // terminator: "ab"+"c" and "a"+"bc" hash apart in arrays
}

extension JSONValue: Hashable {
    /// Structural equality with exact (byte-wise) strings and bit-exact doubles.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.bigInteger(a), .bigInteger(b)): return exactlyEqual(a, b)
        case let (.number(a), .number(b)): return a.bitPattern == b.bitPattern
        case let (.string(a), .string(b)): return exactlyEqual(a, b)
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)): return a == b
        default: return false
        }
    }

    /// Hashes consistently with ``==(_:_:)``: strings by bytes, doubles by bit pattern.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0 as UInt8)
        case .bool(let value): hasher.combine(1 as UInt8); hasher.combine(value)
        case .integer(let value): hasher.combine(2 as UInt8); hasher.combine(value)
        case .number(let value): hasher.combine(3 as UInt8); hasher.combine(value.bitPattern)
        case .bigInteger(let digits): hasher.combine(7 as UInt8); hashBytes(of: digits, into: &hasher)
        case .string(let value): hasher.combine(4 as UInt8); hashBytes(of: value, into: &hasher)
        case .array(let values): hasher.combine(5 as UInt8); hasher.combine(values)
        case .object(let members): hasher.combine(6 as UInt8); hasher.combine(members)
        }
    }
}

extension JSONValue {
    /// The string, when this is `.string`.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer, when this is `.integer`.
    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The boolean, when this is `.bool`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The members, when this is `.object`.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements, when this is `.array`.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The member named `key`, when this is an object that has it.
    ///
    /// ```swift
    /// let seq = event["payload"]?["seq"]?.integerValue
    /// ```
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[JSONKey(key)] }
        return nil
    }

    /// A short name of the value's JSON type, for error messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer: "an integer"
        case .bigInteger: "an integer beyond 64 bits"
        case .number: "a non-integer number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// `nil` is JSON `null`.
    public init(nilLiteral: ()) { self = .null }
    /// A boolean literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer literal is `.integer`.
    public init(integerLiteral value: Int64) { self = .integer(value) }
    /// A floating-point literal is `.number`.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A string literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An array literal.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A dictionary literal is an object; a repeated name keeps the last value.
    public init(dictionaryLiteral elements: (JSONKey, JSONValue)...) {
        var members = JSONObject(minimumCapacity: elements.count)
        for (key, value) in elements { members[key] = value }
        self = .object(members)
    }
}

extension JSONValue: CustomStringConvertible {
    /// The canonical JSON text (or a marker for a value that has none, such as NaN).
    public var description: String {
        guard let bytes = try? CanonicalJSON.encode(self) else { return "<not canonicalizable: \(self.typeName)>" }
        return String(decoding: bytes, as: UTF8.self)
    }
}
