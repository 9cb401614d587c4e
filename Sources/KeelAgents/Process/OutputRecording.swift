import Foundation
import KeelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream into lines on "\n" only, whatever their length.
///
/// Only "\n" ends a line: agent JSON lines may carry U+2028 or "\r" inside strings, and a
/// single line may be megabytes long.
struct LineSplitter {
    private var partial: [UInt8] = []

    /// The lines completed by `chunk`, without their "\n".
    mutating func feed(_ chunk: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if partial.isEmpty {
                lines.append(Array(chunk[start..<newline]))
            } else {
                partial.append(contentsOf: chunk[start..<newline])
                lines.append(partial)
                partial = []
            }
            start = newline + 1
        }
        partial.append(contentsOf: chunk[start...])
        return lines
    }

    /// The text after the last "\n", if any, at end of stream.
    mutating func finish() -> [UInt8]? {
        defer { partial = [] }
        return partial.isEmpty ? nil : partial
    }
}

/// The last `limit` bytes of a stream.
struct TailBuffer {
    let limit: Int
    private var bytes: [UInt8] = []

    init(limit: Int) {
        self.limit = limit
    }

    mutating func append(_ chunk: some Collection<UInt8>) {
        bytes.append(contentsOf: chunk)
        // Trim in batches so that appending stays amortised O(1).
        if bytes.count > 2 * limit {
            bytes.removeFirst(bytes.count - limit)
        }
    }

    /// The tail as text; a UTF-8 sequence cut by the limit is dropped rather than mangled.
    var text: String {
        var tail = bytes.suffix(limit)
        while let first = tail.first, first & 0b1100_0000 == 0b1000_0000 {
            tail = tail.dropFirst()
        }
        return String(decoding: tail, as: UTF8.self)
    }
}

/// A transcript file: created 0600 with its parent directories, written as output arrives.
final class TranscriptFile {
    private var descriptor: Int32
    private let path: String

    init(path: String) throws(ProcessError) {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        } catch {
            throw ProcessError(
                code: .transcriptUnwritable,
                message: "Could not create the transcript directory \(directory). "
                    + "Check that the path is writable by the Keel user, or change the transcript location.",
                cause: error
            )
        }
        let fd = openDescriptor(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let text = DescriptorSet.errnoText()
            throw ProcessError(
                code: .transcriptUnwritable,
                message: "Could not create the transcript file \(path) (\(text)). "
                    + "Check that the path is writable by the Keel user, or change the transcript location.",
                cause: POSIXErrorCode(rawValue: errno).map { POSIXError($0) }
            )
        }
        // An existing file keeps its old mode through O_TRUNC; transcripts may hold secrets
        // that escaped redaction, so make sure only the owner can read them.
        _ = fchmod(fd, 0o600)
        descriptor = fd
    }

    /// Appends `bytes`. A write failure (disk full) stops the transcript, not the process:
    /// the run matters more than its record.
    func write(_ bytes: [UInt8]) {
        guard descriptor >= 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                systemWrite(descriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                closeFile()
                return
            }
        }
    }

    func closeFile() {
        if descriptor >= 0 {
            _ = closeDescriptor(descriptor)
            descriptor = -1
        }
    }

    deinit {
        closeFile()
    }
}

private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
    return Darwin.write(fd, buffer, count)
    #elseif canImport(Musl)
    return Musl.write(fd, buffer, count)
    #else
    return Glibc.write(fd, buffer, count)
    #endif
}

/// Everything Keel keeps of one output stream: lines to the callback, the redacted bytes to
/// the transcript, the tail, and (for ``ProcessRunner/capture(_:)``) the whole output.
struct StreamRecorder {
    static let tailLimit = 64 * 1024

    let stream: OutputStream
    private let redactor: SecretRedactor
    private let transcript: TranscriptFile?
    private let collectLimit: Int?
    private var splitter = LineSplitter()
    /// Inside a PEM private key printed over several lines.
    private var insidePrivateKey = false
    private(set) var tail = TailBuffer(limit: StreamRecorder.tailLimit)
    private(set) var collected: [UInt8] = []
    private(set) var truncated = false

    init(stream: OutputStream, redactor: SecretRedactor, transcript: TranscriptFile?, collectLimit: Int?) {
        self.stream = stream
        self.redactor = redactor
        self.transcript = transcript
        self.collectLimit = collectLimit
    }

    /// The redacted lines completed by `chunk`, already recorded.
    mutating func record(_ chunk: [UInt8]) -> [[UInt8]] {
        let lines = splitter.feed(chunk).map { redactor.redactLine($0, insidePrivateKey: &insidePrivateKey) }
        for line in lines {
            keep(line + [UInt8(ascii: "\n")])
        }
        return lines
    }

    /// The redacted unterminated last line, if any, already recorded.
    mutating func finish() -> [UInt8]? {
        guard let rest = splitter.finish() else { return nil }
        let line = redactor.redactLine(rest, insidePrivateKey: &insidePrivateKey)
        keep(line)
        return line
    }

    private mutating func keep(_ bytes: [UInt8]) {
        transcript?.write(bytes)
        tail.append(bytes)
        if let collectLimit, !truncated {
            let room = collectLimit - collected.count
            if bytes.count <= room {
                collected.append(contentsOf: bytes)
            } else {
                collected.append(contentsOf: bytes.prefix(room))
                truncated = true
            }
        }
    }
}
