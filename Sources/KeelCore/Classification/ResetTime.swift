public import Foundation

/// Reads reset times out of error texts and headers: `Retry-After` (seconds or an HTTP-date),
/// Unix timestamps (`Claude AI usage limit reached|1755615600`, `resetsAt`) and wall-clock times
/// (`try again at 12:16 PM`), and turns them into whole seconds from `now`.
///
/// Every result is rounded up and never negative: a reset already past means "retry now".
public enum ResetTime {
    /// Seconds until a `Retry-After` header value: delta-seconds (`120`) or an HTTP-date
    /// (`Wed, 21 Oct 2015 07:28:00 GMT`, also the obsolete RFC 850 and asctime forms); `nil`
    /// when it is neither.
    ///
    /// ```swift
    /// ResetTime.retryAfterSeconds("120", now: now)                            // 120
    /// ResetTime.retryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT", now: now)  // seconds until then
    /// ```
    public static func retryAfterSeconds(_ value: String, now: Date) -> Int? {
        let bytes = PhraseScanner.fold(value)
        if let (seconds, _) = number(in: bytes, at: 0), bytes.allSatisfy({ isDigit($0) || $0 == 0x2E }) {
            return wholeSeconds(seconds)
        }
        return httpDate(bytes).map { seconds(until: $0, from: now) }
    }

    /// Seconds from `now` until a Unix time in seconds (or milliseconds, when it is that large).
    public static func seconds(untilUnixTime value: Double, from now: Date) -> Int {
        let epochSeconds = value >= 100_000_000_000 ? value / 1000 : value
        return seconds(until: Date(timeIntervalSince1970: epochSeconds), from: now)
    }

    /// Seconds from `now` until the next `hour:minute` on the wall clock of `timeZone`.
    ///
    /// A time up to a minute in the past counts as now (the message shows minutes only, and is
    /// read a moment after it was written); anything earlier means that time tomorrow.
    public static func seconds(untilClockTime hour: Int, minute: Int, in timeZone: TimeZone, from now: Date) -> Int? {
        guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var day = calendar.dateComponents([.year, .month, .day], from: now)
        day.hour = hour
        day.minute = minute
        day.second = 0
        guard var target = calendar.date(from: day) else { return nil }
        if now.timeIntervalSince(target) > 60 {
            guard let tomorrow = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: now)) else { return nil }
            var next = calendar.dateComponents([.year, .month, .day], from: tomorrow)
            next.hour = hour
            next.minute = minute
            next.second = 0
            guard let date = calendar.date(from: next) else { return nil }
            target = date
        }
        return seconds(until: target, from: now)
    }

    static func seconds(until date: Date, from now: Date) -> Int {
        wholeSeconds(date.timeIntervalSince(now))
    }

    static func wholeSeconds(_ interval: Double) -> Int {
        guard interval.isFinite, interval > 0 else { return 0 }
        return interval >= Double(Int32.max) ? Int(Int32.max) : Int(interval.rounded(.up))
    }

    // MARK: Reading folded bytes

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    static func isLetter(_ byte: UInt8) -> Bool { byte >= 0x61 && byte <= 0x7A }

    /// A decimal number (`120`, `1.5`) starting at `index`, and the index after it.
    static func number(in bytes: [UInt8], at index: Int) -> (Double, Int)? {
        var i = index
        var value = 0.0
        var digits = 0
        while i < bytes.count, isDigit(bytes[i]), digits < 18 {
            value = value * 10 + Double(bytes[i] - 0x30)
            i += 1
            digits += 1
        }
        guard digits > 0 else { return nil }
        if i + 1 < bytes.count, bytes[i] == 0x2E, isDigit(bytes[i + 1]) {
            i += 1
            var scale = 0.1
            while i < bytes.count, isDigit(bytes[i]) {
                value += Double(bytes[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
        }
        return (value, i)
    }

    /// The value of a `Retry-After` named in a text (`Retry-After: 120`, `"retry_after":120`,
    /// `retry after 30 seconds`, `Retry-After: <HTTP-date>`), searching after each occurrence of
    /// `key`; `nil` when no occurrence is followed by a value.
    static func retryAfterInText(_ bytes: [UInt8], key: [UInt8], now: Date, text: ScannedText) -> Int? {
        var from = 0
        while let range = text.range(of: key, from: from) {
            from = range.upperBound
            var i = range.upperBound
            while i < bytes.count, [0x22, 0x27, 0x3A, 0x3D, 0x20].contains(bytes[i]) {  // " ' : = space
                i += 1
            }
            if let (value, end) = number(in: bytes, at: i), end == bytes.count || !isDigit(bytes[end]) {
                var unitEnd = end
                while unitEnd < bytes.count, unitEnd - end < 8, bytes[unitEnd] == 0x20 || isLetter(bytes[unitEnd]) {
                    unitEnd += 1
                }
                let unit = String(decoding: bytes[end..<unitEnd], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                let word = unit.split(separator: " ").first.map(String.init) ?? ""
                switch word {
                case "ms", "msec", "millisecond", "milliseconds": return wholeSeconds(value / 1000)
                case "m", "min", "mins", "minute", "minutes": return wholeSeconds(value * 60)
                case "h", "hr", "hrs", "hour", "hours": return wholeSeconds(value * 3600)
                default: return wholeSeconds(value)
                }
            }
            let rest = bytes[i..<min(bytes.count, i + 40)]
            let line = Array(rest.prefix { $0 != 0x22 && $0 != 0x3B && $0 != 0x7D })  // up to " ; }
            if let date = httpDate(line) {
                return seconds(until: date, from: now)
            }
        }
        return nil
    }

    /// The Unix time written right after `marker` (`limit reached|1755615600`): `.some(nil)` when
    /// the marker is there but no number follows it.
    static func unixTimeAfter(_ marker: [UInt8], in text: ScannedText, now: Date) -> Int?? {
        guard let range = text.range(of: marker) else { return nil }
        guard let (value, end) = number(in: text.folded, at: range.upperBound), end - range.upperBound >= 9 else {
            return .some(nil)
        }
        return .some(seconds(untilUnixTime: value, from: now))
    }

    /// A wall-clock time right after `marker` (`try again at 12:16 PM.`): `.some(nil)` when the
    /// marker is there but what follows is not just a time (a date, words, nothing).
    static func clockTimeAfter(_ marker: [UInt8], in text: ScannedText, timeZone: TimeZone, now: Date) -> Int?? {
        guard let range = text.range(of: marker) else { return nil }
        let b = text.folded
        var i = range.upperBound
        while i < b.count, b[i] == 0x20 { i += 1 }
        var hour = 0
        var digits = 0
        while i < b.count, isDigit(b[i]), digits < 3 {
            hour = hour * 10 + Int(b[i] - 0x30)
            i += 1
            digits += 1
        }
        guard digits == 1 || digits == 2 else { return .some(nil) }
        var minute: Int?
        if i + 2 < b.count, b[i] == 0x3A, isDigit(b[i + 1]), isDigit(b[i + 2]) {
            minute = Int(b[i + 1] - 0x30) * 10 + Int(b[i + 2] - 0x30)
            i += 3
            if i < b.count, isDigit(b[i]) { return .some(nil) }
        }
        var j = i
        while j < b.count, b[j] == 0x20 { j += 1 }
        var meridiem: UInt8?
        for form in ["a.m.", "p.m.", "am", "pm"] {
            let bytes = Array(form.utf8)
            if b.count - j >= bytes.count, Array(b[j..<(j + bytes.count)]) == bytes,
                j + bytes.count == b.count || !isLetter(b[j + bytes.count])
            {
                meridiem = bytes[0]
                j += bytes.count
                i = j
                break
            }
        }
        var zone = timeZone
        var k = i
        while k < b.count, b[k] == 0x20 { k += 1 }
        for name in ["utc", "gmt"] {
            let bytes = Array(name.utf8)
            if b.count - k >= bytes.count, Array(b[k..<(k + bytes.count)]) == bytes,
                k + bytes.count == b.count || !isLetter(b[k + bytes.count])
            {
                zone = TimeZone(identifier: "UTC") ?? timeZone
                i = k + bytes.count
                break
            }
        }
        // Only a bare time counts: "at 12:16 PM on Sep 12" names another day, which this does not read.
        while i < b.count, b[i] == 0x20 { i += 1 }
        if i < b.count, ![0x2E, 0x2C, 0x3B, 0x21, 0x29, 0x28, 0x22, 0x27, 0x7D, 0x5D].contains(b[i]) {  // . , ; ! ) ( " ' } ]
            return .some(nil)
        }
        if let meridiem {
            guard (1...12).contains(hour) else { return .some(nil) }
            hour = hour % 12 + (meridiem == 0x70 ? 12 : 0)
        } else if minute == nil {
            return .some(nil)  // "at 3" could be either half of the day
        }
        return .some(seconds(untilClockTime: hour, minute: minute ?? 0, in: zone, from: now))
    }

    /// An HTTP-date in any of the three forms RFC 9110 accepts, read from folded bytes.
    static func httpDate(_ bytes: [UInt8]) -> Date? {
        let text = String(decoding: bytes, as: UTF8.self)
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        var day: Int?
        var month: Int?
        var year: Int?
        var time: (Int, Int, Int)?
        for token in tokens {
            if day != nil, month != nil, year != nil, time != nil {
                break  // whatever follows the date (another header, more text) is not part of it
            }
            if let index = months.firstIndex(of: token) {
                month = index + 1
            } else if token.contains(":") {
                let parts = token.split(separator: ":").compactMap { Int($0) }
                guard parts.count == 3 else { return nil }
                time = (parts[0], parts[1], parts[2])
            } else if let number = Int(token) {
                if token.count == 4 || (day != nil && month != nil) {
                    year = token.count == 2 ? (number < 70 ? 2000 + number : 1900 + number) : number
                } else if day == nil {
                    day = number
                }
            } else if !["mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday",
                "saturday", "sunday", "gmt", "utc"].contains(token)
            {
                return nil
            }
        }
        guard let day, let month, let year, let time else { return nil }
        let (hour, minute, second) = time
        guard (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 + second))
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
