import Foundation

/// Money is integer micro-USD everywhere in Keel: sums never drift and SQL can add them.
public typealias Micros = Int64

public enum Money {
    /// Converts a USD amount as reported by an agent (a JSON number) to micro-USD, rounding half up.
    public static func micros(fromUSD usd: Double) -> Micros {
        guard usd.isFinite, usd > 0 else { return 0 }
        return Micros((usd * 1_000_000).rounded(.toNearestOrAwayFromZero))
    }

    /// Converts a decimal USD text (`"0.24722425"`, `"5"`, `"1e-6"`) to micro-USD, rounding half up in
    /// decimal so that the text's own digits decide (binary floating point would land either
    /// side of a half). Nil for text that is not a finite, non-negative number below 9e12.
    public static func micros(parsingUSD text: String) -> Micros? {
        guard var amount = Decimal(string: text.trimmingCharacters(in: .whitespaces)), !amount.isNaN, amount >= 0,
            amount < Decimal(9_000_000_000_000)
        else { return nil }
        amount *= 1_000_000
        var rounded = Decimal()
        NSDecimalRound(&rounded, &amount, 0, .plain)
        return NSDecimalNumber(decimal: rounded).int64Value
    }

    /// `$0.2472` style text for people: four decimals below a dollar, two above.
    public static func format(_ micros: Micros) -> String {
        let negative = micros < 0
        let value = negative ? -micros : micros
        let dollars = value / 1_000_000
        let rest = value % 1_000_000
        let text: String
        if dollars == 0 {
            let tenThousandths = (rest + 50) / 100
            text = "$0.\(pad(tenThousandths, 4))"
        } else {
            let cents = (rest + 5_000) / 10_000
            text = cents == 100 ? "$\(dollars + 1).00" : "$\(dollars).\(pad(cents, 2))"
        }
        return negative ? "-" + text : text
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let s = String(value)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
