import Foundation
import KeelLedger
import Testing

@Suite struct CanonicalJSONTests {
    // MARK: RFC 8785 examples, verbatim

    /// RFC 8785 §3.2.2 input and §3.2.4 output.
    @Test func rfc8785SampleCanonicalizesByteForByte() throws {
        let input = #"""
            {
              "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        let expected = #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        let bytes = try CanonicalJSON.encode(try JSONValue.parse(input))
        #expect(bytes.utf8String == expected)
        #expect(bytes == Array(expected.utf8))
    }

    /// RFC 8785 §3.2.3: member names sort by UTF-16 code units, so the emoji (a surrogate
    /// pair starting 0xD83D) comes before U+FB33.
    @Test func rfc8785PropertySortingUsesUTF16CodeUnits() throws {
        let input = #"""
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """#
        let expected =
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{F6}\":\"Latin Small Letter O With Diaeresis\","
            + "\"\u{20AC}\":\"Euro Sign\",\"\u{1F600}\":\"Emoji: Grinning Face\",\"\u{FB33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        #expect(try CanonicalJSON.encode(try JSONValue.parse(input)) == Array(expected.utf8))
    }

    /// RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
    @Test(arguments: [
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ])
    func rfc8785AppendixBNumbers(bits: String, expected: String) throws {
        let value = Double(bitPattern: UInt64(bits, radix: 16)!)
        #expect(try CanonicalJSON.encode(.number(value)).utf8String == expected)
    }

    /// RFC 8785 Appendix B: NaN and Infinity have no JSON form.
    @Test(arguments: ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
    func nonFiniteNumbersAreRefused(bits: String) {
        let value = Double(bitPattern: UInt64(bits, radix: 16)!)
        #expect(throws: LedgerError.self) { try CanonicalJSON.encode(["x": .number(value)]) }
    }

    // MARK: keys

    @Test func precomposedAndDecomposedNamesStayDistinctAndSortByCodeUnits() throws {
        let precomposed = "\u{E9}"  // é
        let decomposed = "e\u{301}"  // e + combining acute
        #expect(precomposed == decomposed)  // Swift's String: canonically equivalent

        let text = "{\"\(precomposed)\":1,\"\(decomposed)\":2}"
        let value = try JSONValue.parse(text)
        #expect(value.objectValue?.count == 2)
        #expect(value[precomposed] == .integer(1))
        #expect(value[decomposed] == .integer(2))
        // U+0065 sorts before U+00E9.
        #expect(try CanonicalJSON.encode(value) == Array("{\"e\u{301}\":2,\"\u{E9}\":1}".utf8))

        let literal: JSONObject = [JSONKey(precomposed): 1, JSONKey(decomposed): 2]
        #expect(literal.count == 2)
        #expect(JSONValue.string(precomposed) != JSONValue.string(decomposed))
    }

    @Test func supplementaryNamesSortBeforePrivateUseInRFCButNotInAissDialect() throws {
        let value: JSONValue = ["\u{E000}": "bmp", "\u{10000}": "supplementary"]
        #expect(try CanonicalJSON.encode(value).utf8String == "{\"\u{10000}\":\"supplementary\",\"\u{E000}\":\"bmp\"}")
        #expect(try CanonicalJSON.encode(value, dialect: .aissPython).utf8String == "{\"\u{E000}\":\"bmp\",\"\u{10000}\":\"supplementary\"}")
    }

    // MARK: strings

    @Test func stringsEscapeOnlyWhatRFC8785Requires() throws {
        var scalars = ""
        for code in 0..<0x20 { scalars.unicodeScalars.append(Unicode.Scalar(UInt8(code))) }
        scalars += "\"\\/\u{7F}\u{2028}é😀"
        let expected =
            #""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#
            + #"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#
            + "\\\"\\\\/\u{7F}\u{2028}é😀\""
        #expect(try CanonicalJSON.encode(.string(scalars)).utf8String == expected)
    }

    @Test func safeIntegersStayExactAndSmallDoublesUseECMAScriptForm() throws {
        let value: JSONValue = [
            .integer(9_007_199_254_740_991), .integer(-9_007_199_254_740_991), .integer(-0), .integer(1_250_000), .number(100), .number(0.5),
            .number(-0.0), .number(1e-7),
        ]
        #expect(try CanonicalJSON.encode(value).utf8String == "[9007199254740991,-9007199254740991,0,1250000,100,0.5,0,1e-7]")
        #expect(
            try CanonicalJSON.encode(value, dialect: .aissPython).utf8String == "[9007199254740991,-9007199254740991,0,1250000,100.0,0.5,-0.0,1e-07]")
    }

    /// RFC 8785 numbers are IEEE doubles: an integer literal beyond ±(2^53 − 1) is written as its
    /// nearest double (the integer-valued Appendix B vectors, written out as integers, and
    /// `JSON.stringify(JSON.parse(literal))` in Node for the others); aiss writes every digit.
    @Test(arguments: [
        ("9007199254740992", "9007199254740992"),
        ("-9007199254740992", "-9007199254740992"),
        ("9007199254740993", "9007199254740992"),
        ("9223372036854775807", "9223372036854776000"),
        ("-9223372036854775808", "-9223372036854776000"),
        ("18446744073709551615", "18446744073709552000"),
        ("-18446744073709551616", "-18446744073709552000"),
        ("295147905179352825856", "295147905179352830000"),
        ("1180591620717411303424", "1.1805916207174113e+21"),
        ("99999999999999974834176", "9.999999999999997e+22"),
        ("99999999999999991611392", "1e+23"),
        ("100000000000000008388608", "1.0000000000000001e+23"),
        ("999999999999999737856", "999999999999999700000"),
        ("999999999999999868928", "999999999999999900000"),
        ("1000000000000000000000", "1e+21"),
        ("12345678901234567890123", "1.2345678901234568e+22"),
        ("12345678901234567890124", "1.2345678901234568e+22"),
    ])
    func integersBeyondTwoToThe53AreDoublesInRFC8785AndExactInAissDialect(literal: String, expected: String) throws {
        let value = try JSONValue.parse("[\(literal)]")
        #expect(try CanonicalJSON.encode(value).utf8String == "[\(expected)]")
        #expect(try CanonicalJSON.encode(value, dialect: .aissPython).utf8String == "[\(literal)]")
        let reread = try CanonicalJSON.encode(try JSONValue.parse("[\(expected)]"))
        #expect(reread.utf8String == "[\(expected)]", "the canonical text reads back as itself")
    }

    @Test func aHandBuiltBigIntegerThatIsNoIntegerLiteralIsRefused() {
        let notLiterals = [
            "", "-", "012345678901234567890123", "1e400", "12345678901234567890123.5", " 12345678901234567890123", String(repeating: "9", count: 400),
        ]
        for digits in notLiterals {
            #expect(throws: LedgerError.self, "\(digits)") { try CanonicalJSON.encode(.bigInteger(digits)) }
            #expect(throws: LedgerError.self, "\(digits)") { try CanonicalJSON.encode(.bigInteger(digits), dialect: .aissPython) }
        }
    }

    // MARK: the strict parser

    @Test func integerLiteralsStayIntegersLongerOnesKeepTheirDigitsOtherNumbersAreDoubles() throws {
        let value = try JSONValue.parse("[0, -0, 42, 9223372036854775807, 9223372036854775808, 1.0, 1e2, -3.25]")
        #expect(
            value == [
                .integer(0), .integer(0), .integer(42), .integer(Int64.max), .bigInteger("9223372036854775808"), .number(1), .number(100),
                .number(-3.25),
            ])
    }

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "appears twice"),
        ("[1,]", "line 1, column 4"),
        ("{\n  \"a\": 01\n}", "leading zero"),
        ("[NaN]", "where a value was expected"),
        ("[1e400]", "beyond the range"),
        ("[\(String(repeating: "9", count: 400))]", "beyond the range"),
        (#"["\ud800"]"#, "lone high surrogate"),
        (#"["\udc00"]"#, "lone low surrogate"),
        ("[\"tab\there\"]", "control character"),
        ("{} {}", "after the end"),
        ("", "ends where a value"),
        ("\u{FEFF}{}", "byte order mark"),
    ])
    func strictParserRefusesWithPosition(text: String, complaint: String) {
        do {
            _ = try JSONValue.parse(text)
            Issue.record("parsed \(text.debugDescription)")
        } catch {
            #expect(error.code == .invalidJSON)
            #expect(error.message.contains(complaint), "\(error.message)")
        }
    }

    @Test(
        arguments: [
            [0x22, 0xC0, 0xAF, 0x22],  // overlong "/"
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-8-encoded surrogate
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xFF, 0x22],
            [0x22, 0xE2, 0x82, 0x22],  // truncated
        ] as [[UInt8]])
    func invalidUTF8IsRefused(bytes: [UInt8]) {
        #expect(throws: LedgerError.self) { try JSONValue.parse(bytes) }
    }

    @Test func nestingBeyondTheLimitIsRefused() throws {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: LedgerError.self) { try JSONValue.parse(deep) }
        #expect(try JSONValue.parse(deep, maxDepth: 200) != .null)
    }

    @Test func parseThenEncodeIsStableOnCanonicalText() throws {
        let text = #"{"a":[1,2,{"b":null,"c":"x\ny"}],"d":true,"e":-5,"f":0.25}"#
        #expect(try CanonicalJSON.encode(try JSONValue.parse(text)).utf8String == text)
    }
}
