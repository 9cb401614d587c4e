/// Finds every built-in phrase in an error text in one pass (an Aho–Corasick automaton over
/// folded bytes), so the cost of classifying grows with the text, not with the number of rules.
///
/// Texts are folded before matching: ASCII letters lowercased and every run of whitespace turned
/// into one space, so `Required status check` split over two lines still matches. Phrases are
/// written folded. Non-ASCII bytes pass through unchanged.
struct PhraseScanner: Sendable {
    /// The phrases, folded, in the order they were given; a phrase's index is its id.
    let phrases: [[UInt8]]
    /// Phrases that count only as whole words: found, they get a boundary check after the scan.
    /// (A text wanted both ways is two phrases, one of each kind.)
    private let wordPhrases: [Int]
    /// Every byte that occurs in a phrase has its own class (1...); all others share class 0.
    private let byteClass: [UInt8]
    private let classCount: Int
    /// `next[row + class]`: a complete transition table (no failure links left to follow), where
    /// `row` is `state * classCount`. Each entry holds the target's row, with bit 31 set when
    /// phrases end in the target, so the scan loop needs no multiply and no second lookup per byte.
    private let next: [UInt32]
    /// Phrases ending in state `s`: `outputs[outputStart[s] ..< outputStart[s + 1]]`.
    private let outputStart: [Int32]
    private let outputs: [Int32]

    /// Builds the automaton. `wordPhrases` are the indices of phrases that count only as whole words.
    init(phrases: [String], wordPhrases: Set<Int>) {
        let folded = phrases.map { Array($0.utf8) }
        for (phrase, bytes) in zip(phrases, folded) {
            precondition(!bytes.isEmpty && bytes == Self.fold(phrase), "built-in phrase \"\(phrase)\" is not folded")
        }
        self.phrases = folded
        self.wordPhrases = wordPhrases.sorted()

        var byteClass = [UInt8](repeating: 0, count: 256)
        var classes = 1
        for byte in Set(folded.joined()).sorted() {
            byteClass[Int(byte)] = UInt8(classes)
            classes += 1
        }
        precondition(classes <= 256, "too many distinct bytes in built-in phrases")
        self.byteClass = byteClass
        self.classCount = classes

        // The trie, then breadth-first failure links folded into a complete transition table.
        var children: [[Int32]] = [Array(repeating: -1, count: classes)]
        var ending: [[Int32]] = [[]]
        for (id, bytes) in folded.enumerated() {
            var state = 0
            for byte in bytes {
                let c = Int(byteClass[Int(byte)])
                if children[state][c] < 0 {
                    children[state][c] = Int32(children.count)
                    children.append(Array(repeating: -1, count: classes))
                    ending.append([])
                }
                state = Int(children[state][c])
            }
            ending[state].append(Int32(id))
        }
        precondition(children.count < Int(UInt16.max), "built-in phrases need too many automaton states")

        var fail = [Int](repeating: 0, count: children.count)
        var table = [UInt16](repeating: 0, count: children.count * classes)
        var queue: [Int] = []
        for c in 0..<classes where children[0][c] >= 0 {
            let child = Int(children[0][c])
            table[c] = UInt16(child)
            queue.append(child)
        }
        var head = 0
        while head < queue.count {
            let state = queue[head]
            head += 1
            ending[state] += ending[fail[state]]
            for c in 0..<classes {
                let child = children[state][c]
                if child >= 0 {
                    fail[Int(child)] = Int(table[fail[state] * classes + c])
                    table[state * classes + c] = UInt16(child)
                    queue.append(Int(child))
                } else {
                    table[state * classes + c] = table[fail[state] * classes + c]
                }
            }
        }
        let hasOutput = ending.map { !$0.isEmpty }  // complete: the BFS added each failure target's phrases
        self.next = table.map { target in
            UInt32(Int(target) * classes) | (hasOutput[Int(target)] ? 1 << 31 : 0)
        }
        var start: [Int32] = [0]
        var flat: [Int32] = []
        for list in ending {
            flat += list
            start.append(Int32(flat.count))
        }
        self.outputStart = start
        self.outputs = flat
    }

    /// Folds `text` and notes which phrases occur in it.
    func scan(_ text: String) -> ScannedText {
        var text = text
        let words = (phrases.count + 63) / 64
        var found = [UInt64](repeating: 0, count: words)
        var anyFound = false
        var folded = text.withUTF8 { source in
            [UInt8](unsafeUninitializedCapacity: source.count) { out, written in
                byteClass.withUnsafeBufferPointer { byteClass in
                    next.withUnsafeBufferPointer { next in
                        outputStart.withUnsafeBufferPointer { outputStart in
                            outputs.withUnsafeBufferPointer { outputs in
                                var row = 0
                                var count = 0
                                var lastWasSpace = true
                                for byte in source {
                                    var b = byte
                                    switch b {
                                    case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D:
                                        if lastWasSpace { continue }
                                        b = 0x20
                                        lastWasSpace = true
                                    case 0x41...0x5A:
                                        b |= 0x20
                                        lastWasSpace = false
                                    default:
                                        lastWasSpace = false
                                    }
                                    out[count] = b
                                    count &+= 1
                                    let entry = next[row &+ Int(byteClass[Int(b)])]
                                    row = Int(entry & 0x7FFF_FFFF)
                                    if entry & 0x8000_0000 != 0 {
                                        let state = row / classCount
                                        let first = Int(outputStart[state])
                                        let end = Int(outputStart[state &+ 1])
                                        anyFound = true
                                        for index in first..<end {
                                            let id = Int(outputs[index])
                                            found[id >> 6] |= 1 << UInt64(id & 63)
                                        }
                                    }
                                }
                                written = count
                            }
                        }
                    }
                }
            }
        }
        if folded.last == 0x20 {
            folded.removeLast()
        }
        if anyFound {
            for id in wordPhrases where found[id >> 6] & (1 << UInt64(id & 63)) != 0 {
                if !occursAsWord(phrases[id], in: folded) {
                    found[id >> 6] &= ~(1 << UInt64(id & 63))
                }
            }
        }
        return ScannedText(folded: folded, found: found, anyFound: anyFound)
    }

    /// Whether `phrase` occurs in `folded` with no letter, digit or `_` right before or after it.
    /// Rare (only for word phrases already found), so a plain search is fine here.
    private func occursAsWord(_ phrase: [UInt8], in folded: [UInt8]) -> Bool {
        var from = 0
        while let range = ScannedText.range(of: phrase, in: folded, from: from) {
            let before = range.lowerBound == 0 ? 0x20 : folded[range.lowerBound - 1]
            let after = range.upperBound == folded.count ? 0x20 : folded[range.upperBound]
            if !Self.isWordByte(before) && !Self.isWordByte(after) {
                return true
            }
            from = range.lowerBound + 1
        }
        return false
    }

    /// Folds a string the way ``scan(_:)`` does.
    static func fold(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var lastWasSpace = true
        for byte in text.utf8 {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D:
                if !lastWasSpace { out.append(0x20) }
                lastWasSpace = true
            case 0x41...0x5A:
                out.append(byte | 0x20)
                lastWasSpace = false
            default:
                out.append(byte)
                lastWasSpace = false
            }
        }
        if out.last == 0x20 {
            out.removeLast()
        }
        return out
    }

    static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F
    }
}

/// An error text after ``PhraseScanner/scan(_:)``: its folded bytes and the phrases found.
struct ScannedText {
    /// Lowercased ASCII, whitespace runs collapsed to one space, no leading or trailing space.
    let folded: [UInt8]
    let found: [UInt64]
    /// Whether any phrase at all occurred: when not, no phrase rule needs evaluating.
    let anyFound: Bool

    /// The first occurrence of `needle` at or after `from`.
    func range(of needle: [UInt8], from: Int = 0) -> Range<Int>? {
        Self.range(of: needle, in: folded, from: from)
    }

    static func range(of needle: [UInt8], in folded: [UInt8], from: Int) -> Range<Int>? {
        let count = needle.count
        guard count > 0, folded.count - from >= count else { return nil }
        let first = needle[0]
        return folded.withUnsafeBufferPointer { hay -> Range<Int>? in
            needle.withUnsafeBufferPointer { needle -> Range<Int>? in
                var i = from
                let last = hay.count - count
                while i <= last {
                    if hay[i] == first {
                        var j = 1
                        while j < count && hay[i + j] == needle[j] { j += 1 }
                        if j == count { return i..<(i + count) }
                    }
                    i += 1
                }
                return nil
            }
        }
    }
}
