/// Finds HTTP statuses named in an error text, without mistaking ports, IP addresses, token
/// counts or timestamps for them.
///
/// A three-digit number from 100 to 599 standing alone counts when it opens the text
/// (`405 At least 1 approving review...`), follows a `|` (`api.anthropic.com | 520: ...`), or
/// follows a word that introduces a status: `error`, `status`, `code`, `api`, `returned`,
/// `HTTP`, `HTTP/1.1` (`API Error: 529 ...`, `HTTP/1.1 500 ...`, `"status":405`).
enum StatusScanner {
    private static let introducers: Set<String> = ["error", "status", "code", "api", "returned", "statuscode", "status_code", "http"]

    /// The statuses in the order they appear.
    static func statuses(in bytes: [UInt8]) -> [Int] {
        var found: [Int] = []
        let count = bytes.count
        var i = 0
        while i < count {
            guard isDigit(bytes[i]) else {
                i += 1
                continue
            }
            var end = i
            while end < count, isDigit(bytes[end]) { end += 1 }
            defer { i = end }
            guard end - i == 3 else { continue }
            if i > 0, isWordByte(bytes[i - 1]) || bytes[i - 1] == 0x2E || bytes[i - 1] == 0x2F { continue }  // 1.1.500, /500
            if end < count {
                let after = bytes[end]
                if isWordByte(after) { continue }
                if after == 0x2E, end + 1 < count, isDigit(bytes[end + 1]) { continue }  // 104.18...
            }
            let value = Int(bytes[i] - 0x30) * 100 + Int(bytes[i + 1] - 0x30) * 10 + Int(bytes[i + 2] - 0x30)
            guard (100...599).contains(value), introduced(bytes, before: i) else { continue }
            found.append(value)
        }
        return found
    }

    private static func introduced(_ bytes: [UInt8], before start: Int) -> Bool {
        var k = start - 1
        var sawBar = false
        var separators = 0
        // Separators between the word and the number: space : ( [ = " ' # | , -
        while k >= 0, [0x20, 0x3A, 0x28, 0x5B, 0x3D, 0x22, 0x27, 0x23, 0x7C, 0x2C, 0x2D].contains(bytes[k]) {
            if bytes[k] == 0x7C { sawBar = true }
            if bytes[k] == 0x3A, k > 0, isDigit(bytes[k - 1]) { return false }  // a port: host:443
            k -= 1
            separators += 1
        }
        if k < 0 || sawBar { return true }
        guard separators > 0 else { return false }
        var wordStart = k
        while wordStart > 0, isWordByte(bytes[wordStart - 1]) || bytes[wordStart - 1] == 0x2F || bytes[wordStart - 1] == 0x2E {
            wordStart -= 1
        }
        let word = String(decoding: bytes[wordStart...k], as: UTF8.self)
        return introducers.contains(word) || word.hasPrefix("http/")
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F
    }
}
