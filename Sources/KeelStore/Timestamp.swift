public import Foundation

/// Timestamps are stored as fixed-width ISO 8601 UTC text with milliseconds
/// (`2026-11-21T10:04:05.123Z`): readable in SQL and ordered when compared as text.
public enum Timestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!)

    public static func text(_ date: Date) -> String {
        date.formatted(style)
    }

    public static func date(_ text: String) -> Date? {
        try? style.parse(text)
    }
}
