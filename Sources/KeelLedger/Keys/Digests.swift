import Crypto

/// Lowercase hexadecimal, as AISS writes hashes.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// SHA-256 of `bytes` as lowercase hex.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    hexString(SHA256.hash(data: bytes))
}

/// Whether `text` is 64 lowercase hex digits (a SHA-256 as AISS writes it).
func isSHA256Hex(_ text: String) -> Bool {
    var count = 0
    for byte in text.utf8 {
        count += 1
        guard (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f")) else {
            return false
        }
    }
    return count == 64
}

/// Base58 with the Bitcoin alphabet, as AISS §5.1 uses for agent ids.
enum Base58 {
    static let alphabet: [UInt8] = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)

    /// Encodes `bytes` as a big-endian number in base 58; each leading zero byte becomes a `1`.
    static func encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix(while: { $0 == 0 }).count
        // Base-58 digits, least significant first.
        var digits: [UInt8] = []
        digits.reserveCapacity(bytes.count * 138 / 100 + 1)
        for byte in bytes[zeros...] {
            var carry = Int(byte)
            for index in digits.indices {
                carry += Int(digits[index]) << 8
                digits[index] = UInt8(carry % 58)
                carry /= 58
            }
            while carry > 0 {
                digits.append(UInt8(carry % 58))
                carry /= 58
            }
        }
        var out = [UInt8](repeating: alphabet[0], count: zeros)
        for digit in digits.reversed() { out.append(alphabet[Int(digit)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Agent ids as AISS §5.1 derives them.
public enum AgentID {
    /// `Base58(SHA-256(publicKey))[0..<32]`, with the Bitcoin alphabet.
    ///
    /// ```swift
    /// let id = AgentID.derive(publicKey: identity.key.rawRepresentation)   // 32 characters
    /// ```
    public static func derive(publicKey: some Sequence<UInt8>) -> String {
        let digest = Array(SHA256.hash(data: Array(publicKey)))
        return String(Base58.encode(digest).prefix(32))
    }
}
