import FlowtalkContracts
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /api/stats` and `GET /api/activity` for the signed-in account (docs/api.md).
struct StatsController: Sendable {
    let store: ActivityStore
    /// Names the rules and Ice Breakers in the statistics.
    let automation: AutomationStore
    /// The longest range one request may ask for, in days.
    static let maximumDays = 366
    static let outcomes = Set(ActivityOutcome.allCases.map(\.rawValue))

    func add(to api: RouterGroup<AnalyticsRequestContext>) {
        api.get("stats", use: stats)
        api.get("activity", use: activity)
    }

    // MARK: Statistics

    struct Totals: Encodable {
        var received = 0, replied = 0, replied_rule = 0, replied_ai = 0, replied_ice_breaker = 0, replied_fallback = 0
        /// Replies that were only the welcome or the away message.
        var replied_welcome = 0, replied_away = 0
        var skipped = 0, failed = 0, unknown = 0
        /// Conversations handed to a person; reactions customers gave the bot's messages.
        var hand_offs = 0, reactions = 0
        var reply_rate: Double? = nil

        mutating func add(_ metrics: [String: Int]) {
            received += metrics[CountMetric.received] ?? 0
            replied_rule += metrics[CountMetric.replied(source: "rule")] ?? 0
            replied_ai += metrics[CountMetric.replied(source: "ai")] ?? 0
            replied_ice_breaker += metrics[CountMetric.replied(source: "ice_breaker")] ?? 0
            replied_fallback += metrics[CountMetric.replied(source: "fallback")] ?? 0
            replied_welcome += metrics[CountMetric.replied(source: "welcome")] ?? 0
            replied_away += metrics[CountMetric.replied(source: "away")] ?? 0
            replied = replied_rule + replied_ai + replied_ice_breaker + replied_fallback + replied_welcome + replied_away
            hand_offs += metrics[CountMetric.handOffs] ?? 0
            reactions += metrics[CountMetric.reactions] ?? 0
            skipped += metrics.filter { $0.key.hasPrefix(CountMetric.skippedPrefix) }.values.reduce(0, +)
            failed += metrics[CountMetric.failed] ?? 0
            unknown += metrics[CountMetric.unknown] ?? 0
        }
    }

    struct Day: Encodable {
        let date: String
        let received, replied, replied_rule, replied_ai, replied_ice_breaker, replied_fallback, skipped, failed: Int
    }

    struct Latency: Encodable {
        let p50: Int?
        let p95: Int?
        let samples: Int
    }

    struct RuleHits: Encodable {
        let rule_id: String
        let keywords: [String]?
        let hits: Int
    }

    struct IceBreakerTaps: Encodable {
        let position: Int
        let question: String?
        let taps: Int
    }

    /// Taps on one quick reply or button of a rule.
    struct OptionTaps: Encodable {
        let rule_id: String
        let position: Int
        /// The option's title now; null when the rule no longer has that option.
        @Nullable var title: String?
        let taps: Int
    }

    struct Stats: Encodable {
        let from: String
        let to: String
        let tz: String
        let totals: Totals
        let skipped_by_reason: [String: Int]
        let latency_ms: Latency
        let days: [Day]
        let rules: [RuleHits]
        let ice_breakers: [IceBreakerTaps]
        let options: [OptionTaps]
    }

    func stats(_ request: Request, context: AnalyticsRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        let query = request.uri.queryParameters
        let tz = query["tz"].map(String.init) ?? "UTC"
        guard await store.isKnownTimeZone(tz) else {
            throw APIError.badRequest("tz must be a time zone name such as Europe/Paris or UTC.", code: "invalid_timezone")
        }
        let to: Date
        if let text = query["to"] {
            to = try Self.day(String(text), field: "to")
        } else {
            to = try Self.day(try await store.today(timeZone: tz), field: "to")
        }
        let from = try query["from"].map { try Self.day(String($0), field: "from") } ?? to.addingTimeInterval(-6 * 86_400)
        guard from <= to else { throw APIError.badRequest("from must be on or before to.", code: "invalid_range") }
        let dayCount = Int((to.timeIntervalSince(from) / 86_400).rounded()) + 1
        guard dayCount <= Self.maximumDays else {
            throw APIError.badRequest("Ask for at most \(Self.maximumDays) days at a time.", code: "invalid_range")
        }
        let fromText = Self.format(from)
        let toText = Self.format(to)

        let counts = try await store.dailyCounts(accountID: account, from: fromText, to: toText, timeZone: tz)
        var totals = Totals()
        var all: [String: Int] = [:]
        var days: [Day] = []
        for index in 0..<dayCount {
            let date = Self.format(from.addingTimeInterval(Double(index) * 86_400))
            let metrics = counts[date] ?? [:]
            for (metric, count) in metrics { all[metric, default: 0] += count }
            var day = Totals()
            day.add(metrics)
            days.append(
                Day(date: date, received: day.received, replied: day.replied, replied_rule: day.replied_rule, replied_ai: day.replied_ai,
                    replied_ice_breaker: day.replied_ice_breaker, replied_fallback: day.replied_fallback, skipped: day.skipped, failed: day.failed))
        }
        totals.add(all)
        totals.reply_rate = totals.received > 0 ? Double(totals.replied) / Double(totals.received) : nil
        var skipped: [String: Int] = [:]
        for (metric, count) in all where metric.hasPrefix(CountMetric.skippedPrefix) { skipped[String(metric.dropFirst(CountMetric.skippedPrefix.count))] = count }

        let keywords = try await automation.ruleKeywords(accountID: account)
        let rules = all.compactMap { metric, count -> RuleHits? in
            guard metric.hasPrefix(CountMetric.rulePrefix) else { return nil }
            let id = String(metric.dropFirst(CountMetric.rulePrefix.count))
            return RuleHits(rule_id: id, keywords: keywords[id], hits: count)
        }.sorted { ($0.hits, $1.rule_id) > ($1.hits, $0.rule_id) }
        let questions = try await automation.iceBreakerQuestions(accountID: account)
        let taps = all.compactMap { metric, count -> IceBreakerTaps? in
            guard metric.hasPrefix(CountMetric.iceBreakerPrefix), let position = Int(metric.dropFirst(CountMetric.iceBreakerPrefix.count)) else { return nil }
            return IceBreakerTaps(position: position, question: questions[position], taps: count)
        }.sorted { $0.position < $1.position }
        let titles = try await automation.optionTitles(accountID: account)
        let options = all.compactMap { metric, count -> OptionTaps? in
            guard metric.hasPrefix(CountMetric.optionPrefix) else { return nil }
            let parts = metric.dropFirst(CountMetric.optionPrefix.count).split(separator: ":")
            guard parts.count == 2, let position = Int(parts[1]) else { return nil }
            let id = String(parts[0])
            return OptionTaps(rule_id: id, position: position, title: titles[id].flatMap { position < $0.count ? $0[position] : nil }, taps: count)
        }.sorted { ($0.rule_id, $0.position) < ($1.rule_id, $1.position) }
        // From the hourly latency buckets: no activity log read, whatever the range.
        let latency = LatencyHistogram.percentiles([0.5, 0.95], in: all)

        return try Self.json(
            Stats(
                from: fromText, to: toText, tz: tz, totals: totals, skipped_by_reason: skipped,
                latency_ms: Latency(
                    p50: latency.values[0].map { Int($0.rounded()) }, p95: latency.values[1].map { Int($0.rounded()) }, samples: latency.samples),
                days: days, rules: rules, ice_breakers: taps, options: options))
    }

    // MARK: Activity

    /// One activity-log entry as the dashboard shows it.
    struct Item: Encodable, Equatable {
        var id: String
        var occurred_at: Date
        var customer_id: String?
        var event_kind: String
        var summary: String?
        var reply_summary: String?
        var outcome: String
        var source: String?
        var rule_id: String?
        var reason: String?
        var latency_ms: Int?
        /// Set when the customer unsent the message: its text and the reply's are no longer kept.
        var unsent_at: Date?

        init(_ record: ActivityRecord) {
            id = String(record.id)
            occurred_at = record.occurredAt
            customer_id = record.customerID
            event_kind = record.eventKind
            summary = record.summary
            reply_summary = record.replySummary
            outcome = record.outcome
            source = record.source
            rule_id = record.ruleID?.uuidString.lowercased()
            reason = record.reason
            latency_ms = record.latencyMs
            unsent_at = record.unsentAt
        }
    }

    struct Page: Encodable {
        let items: [Item]
        let next_before: String?
    }

    func activity(_ request: Request, context: AnalyticsRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        let query = request.uri.queryParameters
        let (limit, before) = try Paging.parse(query, defaultLimit: 50, cursor: "an entry id")
        var outcome: String?
        if let text = query["outcome"], !text.isEmpty {
            guard Self.outcomes.contains(String(text)) else {
                throw APIError.badRequest("outcome must be one of \(Self.outcomes.sorted().joined(separator: ", ")).", code: "invalid_outcome")
            }
            outcome = String(text)
        }
        // One conversation's thread: `customer`, an Instagram-scoped id.
        var customer: String?
        if let text = query["customer"], !text.isEmpty {
            customer = try CustomerIDParameter.validated(text)
        }
        var items = try await store.activity(accountID: account, limit: limit, before: before, outcome: outcome, customerID: customer).map(Item.init)
        var next: String?
        if items.count > limit {
            items.removeLast()
            next = items.last?.id
        }
        return try Self.json(Page(items: items, next_before: next))
    }

    // MARK: Helpers

    nonisolated(unsafe) private static let dayPattern = #/^\d{4}-\d{2}-\d{2}$/#

    /// A calendar date `YYYY-MM-DD` (years 2000–2100), as midnight UTC; 400 for anything else.
    static func day(_ text: String, field: String) throws -> Date {
        let invalid = APIError.badRequest("\(field) must be a date written YYYY-MM-DD, such as 2026-11-29.", code: "invalid_date")
        guard text.wholeMatch(of: dayPattern) != nil else { throw invalid }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (2000...2100).contains(parts[0]) else { throw invalid }
        guard let date = utc.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])), format(date) == text else { throw invalid }
        return date
    }

    /// Dates here are calendar days, held as midnight UTC.
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func format(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    static func json(_ value: some Encodable) throws -> Response { try JSONResponse.make(value) }
}
