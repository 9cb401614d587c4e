import Foundation

/// An RFC 5322 message in text/plain UTF-8, rendered with CRLF line endings.
struct MailMessage: Sendable {
    var from: String
    var to: [String]
    var subject: String
    var date: Date
    var messageID: String
    var extraHeaders: [(String, String)] = []
    var body: String

    /// How the body travels: as it is when it can, else quoted-printable.
    enum TransferEncoding: String, Sendable {
        case sevenBit = "7bit"
        case eightBit = "8bit"
        case quotedPrintable = "quoted-printable"
    }

    /// 7bit for short ASCII lines, 8bit for short lines when the server takes 8BITMIME,
    /// quoted-printable otherwise (RFC 5321 caps a line at 998 octets).
    func transferEncoding(serverAccepts8BitMIME: Bool) -> TransferEncoding {
        let lines = Self.lines(of: body)
        let short = lines.allSatisfy { $0.utf8.count <= 998 }
        if short && body.utf8.allSatisfy({ $0 < 0x80 }) { return .sevenBit }
        if short && serverAccepts8BitMIME { return .eightBit }
        return .quotedPrintable
    }

    /// The message (header, blank line, body), lines ending in CRLF, not yet dot-stuffed.
    func rendered(encoding: TransferEncoding) -> String {
        var header: [(String, String)] = [
            ("From", Self.encodedMailbox(from)),
            ("To", to.map(Self.encodedMailbox).joined(separator: ", ")),
            ("Subject", Self.encodedWords(subject)),
            ("Date", Self.rfc5322Date(date)),
            ("Message-ID", messageID),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", encoding.rawValue),
        ]
        header += extraHeaders.map { ($0.0, Self.encodedWords($0.1)) }
        var out = ""
        for (name, value) in header {
            out += Self.folded("\(name): \(value)") + "\r\n"
        }
        out += "\r\n"
        let lines = Self.lines(of: body)
        switch encoding {
        case .sevenBit, .eightBit:
            out += lines.map { $0 + "\r\n" }.joined()
        case .quotedPrintable:
            out += lines.map { Self.quotedPrintable($0) + "\r\n" }.joined()
        }
        return out
    }

    /// The lines of a text whatever its line endings (CRLF, LF, CR).
    static func lines(of text: String) -> [String] {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var lines = normalized.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The DATA section for a rendered message: lines that start with `.` get another
    /// (RFC 5321 §4.5.2), and the final `.` line ends it.
    static func dataSection(_ rendered: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rendered.utf8.count + 16)
        var atLineStart = true
        for byte in rendered.utf8 {
            if atLineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out.append(byte)
            atLineStart = byte == UInt8(ascii: "\n")
        }
        if !atLineStart { out += Array("\r\n".utf8) }
        out += Array(".\r\n".utf8)
        return out
    }

    /// `Tue, 03 Mar 2026 10:00:00 +0000` (RFC 5322 §3.3), always in UTC.
    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// The address inside `Name <address>`, or the whole trimmed text.
    static func address(of mailbox: String) -> String {
        let trimmed = mailbox.trimmingCharacters(in: .whitespaces)
        if let open = trimmed.lastIndex(of: "<"), let close = trimmed.lastIndex(of: ">"), open < close {
            return String(trimmed[trimmed.index(after: open)..<close]).trimmingCharacters(in: .whitespaces)
        }
        return trimmed
    }

    /// A mailbox for a header: a non-ASCII display name becomes encoded words.
    static func encodedMailbox(_ mailbox: String) -> String {
        let trimmed = mailbox.trimmingCharacters(in: .whitespaces)
        guard let open = trimmed.lastIndex(of: "<") else { return trimmed }
        let name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !name.utf8.allSatisfy({ $0 < 0x80 }) else { return trimmed }
        return encodedWords(name) + " " + trimmed[open...]
    }

    /// Header text as is when it is ASCII, else RFC 2047 `=?UTF-8?B?…?=` words of at most
    /// 45 UTF-8 bytes each (never splitting a character), separated by spaces that folding
    /// turns into line breaks. CR and LF never reach a header.
    static func encodedWords(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if flat.utf8.allSatisfy({ $0 < 0x80 }) { return flat }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in flat {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 && !chunk.isEmpty {
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: " ")
    }

    /// Folds a header line at spaces so lines stay under 78 characters where possible (RFC 5322 §2.2.3).
    static func folded(_ line: String) -> String {
        guard line.count > 78 else { return line }
        var lines: [String] = []
        var current: String?
        for word in line.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            guard let sofar = current else {
                current = word
                continue
            }
            // Never leave the field name alone on its line, nor a line of only spaces.
            let breakable = sofar.contains(" ") && !sofar.trimmingCharacters(in: .whitespaces).isEmpty && !word.isEmpty
            if breakable && sofar.count + 1 + word.count > 78 {
                lines.append(sofar)
                current = word
            } else {
                current = sofar + " " + word
            }
        }
        if let current { lines.append(current) }
        return lines.joined(separator: "\r\n ")
    }

    /// One line in quoted-printable (RFC 2045 §6.7), with soft breaks keeping lines at 76.
    static func quotedPrintable(_ line: String) -> String {
        let bytes = Array(line.utf8)
        var pieces: [String] = []
        for (i, byte) in bytes.enumerated() {
            let isLast = i == bytes.count - 1
            let literal =
                (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=")) || ((byte == 32 || byte == 9) && !isLast)
            pieces.append(literal ? String(UnicodeScalar(byte)) : "=" + hex(byte))
        }
        var out = ""
        var width = 0
        for piece in pieces {
            if width + piece.count > 75 {
                out += "=\r\n"
                width = 0
            }
            out += piece
            width += piece.count
        }
        return out
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
