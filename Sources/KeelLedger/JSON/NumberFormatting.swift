/// The shortest decimal digits that round-trip a finite double, and where the point goes.
///
/// `value = 0.d1 d2 ... dk × 10^exponent` with `d1 != 0` (ECMAScript's `n` is `exponent`),
/// or `digits == [0]` for zero. Swift's `description` already prints the shortest
/// round-tripping digits (closest to the value, as ECMAScript and Python's `repr` require);
/// this only re-reads them so that they can be laid out by either convention.
struct ShortestDigits {
    var isNegative: Bool
    var digits: [UInt8]  // ASCII digits, no leading or trailing zeros (except a single "0")
    var exponent: Int

    init(_ value: Double) {
        precondition(value.isFinite)
        isNegative = value.sign == .minus
        let text = Array(value.magnitude.description.utf8)
        var mantissaDigits: [UInt8] = []
        var pointPosition: Int?
        var index = 0
        var exponentPart = 0
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: ".") {
                pointPosition = mantissaDigits.count
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                let rest = String(decoding: text[(index + 1)...], as: UTF8.self)
                exponentPart = Int(rest.hasPrefix("+") ? String(rest.dropFirst()) : rest) ?? 0
                break
            } else {
                mantissaDigits.append(byte)
            }
            index += 1
        }
        var point = (pointPosition ?? mantissaDigits.count) + exponentPart
        var leading = 0
        while leading < mantissaDigits.count, mantissaDigits[leading] == UInt8(ascii: "0") { leading += 1 }
        if leading == mantissaDigits.count {
            digits = [UInt8(ascii: "0")]
            exponent = 1
            return
        }
        point -= leading
        var trailing = mantissaDigits.count
        while trailing > leading, mantissaDigits[trailing - 1] == UInt8(ascii: "0") { trailing -= 1 }
        digits = Array(mantissaDigits[leading..<trailing])
        exponent = point
    }

    var isZero: Bool { digits == [UInt8(ascii: "0")] }
}

/// ECMAScript `Number.prototype.toString` (ECMA-262 Number::toString), as RFC 8785 §3.2.2.3 requires.
func ecmaScriptNumber(_ value: Double) -> [UInt8] {
    let parts = ShortestDigits(value)
    if parts.isZero { return Array("0".utf8) }  // also -0
    var out: [UInt8] = []
    if parts.isNegative { out.append(UInt8(ascii: "-")) }
    let k = parts.digits.count
    let n = parts.exponent
    if k <= n, n <= 21 {
        out += parts.digits
        out += Array(repeating: UInt8(ascii: "0"), count: n - k)
    } else if 0 < n, n <= 21 {
        out += parts.digits[0..<n]
        out.append(UInt8(ascii: "."))
        out += parts.digits[n...]
    } else if -6 < n, n <= 0 {
        out += Array("0.".utf8)
        out += Array(repeating: UInt8(ascii: "0"), count: -n)
        out += parts.digits
    } else {
        out.append(parts.digits[0])
        if k > 1 {
            out.append(UInt8(ascii: "."))
            out += parts.digits[1...]
        }
        out.append(UInt8(ascii: "e"))
        out.append(n - 1 >= 0 ? UInt8(ascii: "+") : UInt8(ascii: "-"))
        out += Array(String(abs(n - 1)).utf8)
    }
    return out
}

/// CPython's `repr(float)` (`float_repr_style == 'short'`), which the reference implementation
/// `aiss-standard` writes into canonical JSON instead of the ECMAScript form.
func pythonFloatRepr(_ value: Double) -> [UInt8] {
    let parts = ShortestDigits(value)
    var out: [UInt8] = []
    if parts.isNegative { out.append(UInt8(ascii: "-")) }
    if parts.isZero {
        out += Array("0.0".utf8)
        return out
    }
    let k = parts.digits.count
    let decpt = parts.exponent
    if decpt <= -4 || decpt > 16 {
        out.append(parts.digits[0])
        if k > 1 {
            out.append(UInt8(ascii: "."))
            out += parts.digits[1...]
        }
        let exponent = decpt - 1
        out.append(UInt8(ascii: "e"))
        out.append(exponent >= 0 ? UInt8(ascii: "+") : UInt8(ascii: "-"))
        let magnitude = String(abs(exponent))
        if magnitude.count < 2 { out.append(UInt8(ascii: "0")) }
        out += Array(magnitude.utf8)
    } else if decpt <= 0 {
        out += Array("0.".utf8)
        out += Array(repeating: UInt8(ascii: "0"), count: -decpt)
        out += parts.digits
    } else if decpt >= k {
        out += parts.digits
        out += Array(repeating: UInt8(ascii: "0"), count: decpt - k)
        out += Array(".0".utf8)
    } else {
        out += parts.digits[0..<decpt]
        out.append(UInt8(ascii: "."))
        out += parts.digits[decpt...]
    }
    return out
}
