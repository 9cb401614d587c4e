public import Foundation

/// Spending ceilings, and the estimate reserved against them when work is claimed.
///
/// A claim that will run an agent reserves ``estimateMicros``. It goes ahead only if, for the
/// item, its repo and its tenant, what was spent plus what other claims hold reserved plus the
/// new reservation stays within the ceiling; otherwise the item goes to a person with the
/// figures. The actual cost replaces the reservation when the run ends. Because the check and the
/// reservation are one transaction, concurrent workers cannot together cross a ceiling.
///
/// ```swift
/// let policy = BudgetPolicy(estimateMicros: 500_000, issueMicros: 5_000_000, tenantMicros: 200_000_000, period: .month)
/// if let refusal = policy.refusal(for: figures) { print(refusal.message) }
/// ```
public struct BudgetPolicy: Sendable, Equatable {
    /// What repo and tenant spend is counted over.
    public enum Period: String, Sendable, Equatable, CaseIterable {
        /// Everything ever spent.
        case total
        /// The current UTC calendar day.
        case day
        /// The current UTC calendar month.
        case month
    }

    /// Reserved when a claim will run an agent, until the run's actual cost replaces it.
    public var estimateMicros: Micros
    /// The ceiling per issue, over its whole life (an item's own `budget_micros` overrides it).
    public var issueMicros: Micros?
    /// The ceiling per repo, over ``period``.
    public var repoMicros: Micros?
    /// The ceiling per tenant, over ``period``.
    public var tenantMicros: Micros?
    /// The span repo and tenant spend is counted over.
    public var period: Period

    /// Creates a policy; a nil ceiling is no ceiling.
    public init(
        estimateMicros: Micros, issueMicros: Micros? = nil, repoMicros: Micros? = nil, tenantMicros: Micros? = nil, period: Period = .month
    ) {
        self.estimateMicros = estimateMicros
        self.issueMicros = issueMicros
        self.repoMicros = repoMicros
        self.tenantMicros = tenantMicros
        self.period = period
    }

    /// Where ``period`` began at `now` (nil for ``Period/total``).
    public func periodStart(at now: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        switch period {
        case .total: return nil
        case .day: return calendar.startOfDay(for: now)
        case .month: return calendar.date(from: calendar.dateComponents([.year, .month], from: now))
        }
    }

    /// The first ceiling the reservation would cross (issue, then repo, then tenant), or nil.
    public func refusal(for figures: BudgetFigures) -> BudgetRefusal? {
        let scopes: [(BudgetScope, Micros?, BudgetFigures.Scope)] = [
            (.issue, figures.issueCeiling ?? issueMicros, figures.issue),
            (.repo, repoMicros, figures.repo),
            (.tenant, tenantMicros, figures.tenant),
        ]
        for (scope, ceiling, spend) in scopes {
            guard let ceiling else { continue }
            let (committed, overflow) = spend.spent.addingReportingOverflow(spend.reserved)
            let (total, overflow2) = committed.addingReportingOverflow(estimateMicros)
            if overflow || overflow2 || total > ceiling {
                return BudgetRefusal(
                    scope: scope, name: spend.name, ceiling: ceiling, spent: spend.spent, reserved: spend.reserved,
                    estimate: estimateMicros, period: scope == .issue ? .total : period)
            }
        }
        return nil
    }
}

/// Which ceiling a figure belongs to.
public enum BudgetScope: String, Sendable, Equatable, Codable {
    case issue, repo, tenant
}

/// What an item, its repo and its tenant have spent and hold reserved, at the moment of a claim.
public struct BudgetFigures: Sendable, Equatable {
    /// One scope's figures.
    public struct Scope: Sendable, Equatable {
        /// `#12`, the repo's name, the tenant's name.
        public var name: String
        public var spent: Micros
        /// Held by other live claims.
        public var reserved: Micros

        public init(name: String, spent: Micros, reserved: Micros) {
            self.name = name
            self.spent = spent
            self.reserved = reserved
        }
    }

    public var issue: Scope
    /// The item's own ceiling (`work_items.budget_micros`), which overrides the policy's.
    public var issueCeiling: Micros?
    public var repo: Scope
    public var tenant: Scope

    /// The same figures with no other claim holding anything: what spend alone allows.
    public var withoutReservations: BudgetFigures {
        var figures = self
        figures.issue.reserved = 0
        figures.repo.reserved = 0
        figures.tenant.reserved = 0
        return figures
    }

    public init(issue: Scope, issueCeiling: Micros?, repo: Scope, tenant: Scope) {
        self.issue = issue
        self.issueCeiling = issueCeiling
        self.repo = repo
        self.tenant = tenant
    }
}

/// Why a claim was refused: the ceiling it would cross and the figures, for the person who decides.
public struct BudgetRefusal: Sendable, Equatable, Error, CustomStringConvertible {
    public var scope: BudgetScope
    public var name: String
    public var ceiling: Micros
    public var spent: Micros
    public var reserved: Micros
    public var estimate: Micros
    public var period: BudgetPolicy.Period

    public init(
        scope: BudgetScope, name: String, ceiling: Micros, spent: Micros, reserved: Micros, estimate: Micros, period: BudgetPolicy.Period
    ) {
        self.scope = scope
        self.name = name
        self.ceiling = ceiling
        self.spent = spent
        self.reserved = reserved
        self.estimate = estimate
        self.period = period
    }

    /// `budget: the issue budget of #4 would be crossed: spent $4.80 + reserved $0.00 + estimate $0.50 > ceiling $5.00`.
    public var message: String {
        let span = period == .total ? "" : " this \(period.rawValue)"
        let what = scope == .issue ? "the issue budget of \(name)" : "the \(scope.rawValue) budget of \(name)\(span)"
        let setting =
            scope == .issue ? "raise budgets.issue_usd in keel.yml or the item's budget" : "raise budgets.\(scope.rawValue)_usd in keel.yml"
        return "budget: \(what) would be crossed: spent \(Money.format(spent)) + reserved \(Money.format(reserved)) + estimate "
            + "\(Money.format(estimate)) > ceiling \(Money.format(ceiling)); \(setting), then `keel retry`"
    }

    public var description: String { message }
}
