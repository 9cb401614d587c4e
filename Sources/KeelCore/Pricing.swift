/// What a model's tokens cost, in micro-USD per million tokens (which is USD per token × 10¹²,
/// so `$3 per million` is 3_000_000).
public struct ModelPrice: Sendable, Equatable {
    public var inputPerMillion: Micros
    public var outputPerMillion: Micros
    public var cacheReadPerMillion: Micros
    public var cacheWritePerMillion: Micros

    /// A price; cache reads and writes default to the input price when the table gives none.
    public init(inputPerMillion: Micros, outputPerMillion: Micros, cacheReadPerMillion: Micros? = nil, cacheWritePerMillion: Micros? = nil) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
        self.cacheReadPerMillion = cacheReadPerMillion ?? inputPerMillion
        self.cacheWritePerMillion = cacheWritePerMillion ?? inputPerMillion
    }

    /// The cost of a run's tokens (`input` without cache reads), rounded half up to a micro-USD.
    public func cost(input: Int, output: Int, cacheRead: Int, cacheWrite: Int) -> Micros {
        let parts: [(Int, Micros)] = [
            (input, inputPerMillion), (output, outputPerMillion), (cacheRead, cacheReadPerMillion), (cacheWrite, cacheWritePerMillion),
        ]
        // Token counts this large are garbage from the agent, not spend: saturate instead of trapping.
        var total: Micros = 500_000  // rounds half up at the division
        for (tokens, price) in parts {
            let (product, overflow) = Micros(max(0, tokens)).multipliedReportingOverflow(by: price)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow, !overflow2 else { return .max / 1_000_000 }
            total = sum
        }
        return total / 1_000_000
    }
}

/// The pricing table of `keel.yml`: model name → price, for agents that report tokens but no cost.
///
/// A model is found by its exact name, then without a provider prefix (`anthropic/`,
/// `openai/`, ...), then by the longest table entry it starts with (so `gpt-5` prices
/// `gpt-5-2025-08-07` unless that has an entry of its own).
///
/// ```swift
/// let table = PricingTable(["gpt-5-codex": ModelPrice(inputPerMillion: 1_250_000, outputPerMillion: 10_000_000, cacheReadPerMillion: 125_000)])
/// table.price(for: "openai/gpt-5-codex")?.cost(input: 315, output: 122, cacheRead: 24_448, cacheWrite: 0)
/// ```
public struct PricingTable: Sendable, Equatable {
    public var prices: [String: ModelPrice]

    public init(_ prices: [String: ModelPrice] = [:]) {
        self.prices = prices
    }

    public var isEmpty: Bool { prices.isEmpty }

    /// The price for `model`, or nil when the table has none.
    public func price(for model: String) -> ModelPrice? {
        if let exact = prices[model] { return exact }
        var names = [model]
        if let slash = model.lastIndex(of: "/") { names.append(String(model[model.index(after: slash)...])) }
        for name in names {
            if let exact = prices[name] { return exact }
            if let prefix = prices.keys.filter({ name.hasPrefix($0) }).max(by: { $0.count < $1.count }) { return prices[prefix] }
        }
        return nil
    }
}
