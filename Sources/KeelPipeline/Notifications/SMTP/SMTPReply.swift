import NIOCore

/// One SMTP reply (RFC 5321 §4.2): a three-digit code and one or more lines of text.
struct SMTPReply: Sendable, Equatable {
    var code: Int
    /// The text of each line, without the code and separator.
    var lines: [String]

    /// 2xx: done.
    var isPositive: Bool { (200..<300).contains(code) }
    /// 3xx: go on (334 during AUTH, 354 after DATA).
    var isIntermediate: Bool { (300..<400).contains(code) }
    /// 4xx: refused for now.
    var isTransientFailure: Bool { (400..<500).contains(code) }

    /// The reply as the server wrote it, on one line, for error messages.
    var quoted: String {
        "\(code) " + lines.map { $0.trimmingTrailingWhitespace() }.joined(separator: " / ")
    }
}

/// Builds replies from lines: `250-first`, `250-second`, `250 last` make one reply.
struct SMTPReplyParser: Sendable {
    /// A line that is not `DDD`, `DDD text`, or `DDD-text`, or a continuation with another code.
    struct Malformed: Error, CustomStringConvertible {
        var line: String
        var description: String { "not an SMTP reply line: \"\(line.prefix(120))\"" }
    }

    private var partial: SMTPReply?

    /// Takes one line (its CRLF removed); returns the reply it completes, if any.
    mutating func feed(_ line: String) throws -> SMTPReply? {
        let scalars = Array(line.utf8)
        guard scalars.count >= 3, scalars[0..<3].allSatisfy({ (48...57).contains($0) }),
            let code = Int(String(decoding: scalars[0..<3], as: UTF8.self)), (200...599).contains(code)
        else { throw Malformed(line: line) }
        let separator = scalars.count > 3 ? scalars[3] : UInt8(ascii: " ")
        guard separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else { throw Malformed(line: line) }
        let text = scalars.count > 4 ? String(decoding: scalars[4...], as: UTF8.self) : ""
        if let partial, partial.code != code { throw Malformed(line: line) }
        var reply = partial ?? SMTPReply(code: code, lines: [])
        reply.lines.append(text)
        if separator == UInt8(ascii: "-") {
            partial = reply
            return nil
        }
        partial = nil
        return reply
    }
}

/// Splits the byte stream into lines (CRLF, or a lenient bare LF) and hands out whole replies.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply

    private var parser = SMTPReplyParser()
    /// RFC 5321 §4.5.3.1.5 allows 512 octets a reply line; be generous, but bounded.
    private static let maxLine = 8192

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maxLine { throw SMTPReplyParser.Malformed(line: "a reply line over \(Self.maxLine) octets") }
            return .needMoreData
        }
        let length = newline - view.startIndex + 1
        var line = buffer.readString(length: length) ?? ""
        line.removeLast()
        if line.hasSuffix("\r") { line.removeLast() }
        if let reply = try parser.feed(line) {
            context.fireChannelRead(wrapInboundOut(reply))
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return String(s)
    }
}
