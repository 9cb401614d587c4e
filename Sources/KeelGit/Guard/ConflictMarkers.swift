import Foundation

/// A conflict-marker line that a push would introduce: the path in the pushed commit and the
/// line number in that version of the file (1-based).
public struct ConflictMarker: Sendable, Hashable, CustomStringConvertible {
    /// The file's path in the repository.
    public var path: String
    /// The 1-based line number in the pushed version of the file.
    public var line: Int

    /// Creates a location.
    public init(path: String, line: Int) {
        self.path = path
        self.line = line
    }

    /// `path:line`, as editors and compilers print locations.
    public var description: String { "\(path):\(line)" }
}

/// Recognises git's conflict markers in the lines of one file.
///
/// A marker is seven `<`, `|` or `>` at the start of a line followed by a space or by the end of
/// the line (a CR before the newline counts as the end, for CRLF files). `=======` alone is far
/// too common in prose (a Markdown heading underline) to count on its own shape: it is a marker
/// only between an opening `<<<<<<<` and a closing `>>>>>>>`.
enum ConflictMarkerScan {
    enum Kind: Equatable {
        case opening, ancestor, separator, closing
    }

    /// The marker `line` (without its newline) is, if any.
    static func kind(of line: some Collection<UInt8>) -> Kind? {
        guard line.count >= 7, let first = line.first else { return nil }
        let kind: Kind
        switch first {
        case UInt8(ascii: "<"): kind = .opening
        case UInt8(ascii: "|"): kind = .ancestor
        case UInt8(ascii: "="): kind = .separator
        case UInt8(ascii: ">"): kind = .closing
        default: return nil
        }
        guard line.prefix(7).allSatisfy({ $0 == first }) else { return nil }
        let rest = line.dropFirst(7)
        guard let next = rest.first else { return kind }
        if next == UInt8(ascii: " ") { return kind }
        if next == UInt8(ascii: "\r") && rest.count == 1 { return kind }
        return nil
    }

    /// The line numbers, among `lines` (a file's marker-shaped lines in file order; other
    /// lines may be left out, since they never open or close a region), that are conflict
    /// markers.
    static func markerLines(in lines: [(number: Int, text: [UInt8])]) -> [Int] {
        var markers: [Int] = []
        var insideRegion = false
        var separators: [Int] = []
        for (number, text) in lines {
            switch kind(of: text) {
            case .opening:
                markers.append(number)
                // An opening without a closing leaves its separators unproven.
                insideRegion = true
                separators = []
            case .ancestor:
                markers.append(number)
            case .separator:
                if insideRegion { separators.append(number) }
            case .closing:
                markers.append(number)
                markers += separators
                insideRegion = false
                separators = []
            case nil:
                break
            }
        }
        return markers.sorted()
    }
}

extension ConflictMarker {
    /// The conflict markers in the file at `path` on disk (`relativePath` names it in the
    /// result); empty for a file without any, or one that cannot be read.
    public static func scan(file path: String, as relativePath: String) -> [ConflictMarker] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let bytes = [UInt8](data)
        guard !bytes.prefix(8000).contains(0) else { return [] }  // binary: git's own test
        var lines: [(number: Int, text: [UInt8])] = []
        var number = 1
        var start = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: "\n") {
            let line = Array(bytes[start..<index])
            if ConflictMarkerScan.kind(of: line) != nil { lines.append((number, line)) }
            number += 1
            start = index + 1
        }
        return ConflictMarkerScan.markerLines(in: lines).map { ConflictMarker(path: relativePath, line: $0) }
    }
}
