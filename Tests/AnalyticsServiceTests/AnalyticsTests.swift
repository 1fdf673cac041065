@testable import AnalyticsService
import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkHTTP
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Testing

/// Two shops with counts and activity written as dispatch writes them, and analytics answering over HTTP.
struct Shops: Sendable {
    let client: PostgresClient
    let ana: UUID
    let bob: UUID
    let anaCookie: String
    let bobCookie: String

    static func make(_ client: PostgresClient) async throws -> Shops {
        let (vault, _) = TokenVault.testing()
        let seeder = AccountSeeder(client: client, vault: vault, logger: .quiet("seed"))
        let ana = try await seeder.createAccount(email: "ana@example.com", instagramUserID: "1001", username: "ana", token: Secret("t1"))
        let bob = try await seeder.createAccount(email: "bob@example.com", instagramUserID: "1002", username: "bob", token: Secret("t2"))
        let sessions = SessionStore(client: client, logger: .quiet("s"))
        return Shops(
            client: client, ana: ana, bob: bob, anaCookie: "ft_session=" + (try await sessions.create(accountID: ana)),
            bobCookie: "ft_session=" + (try await sessions.create(accountID: bob)))
    }

    /// Adds to an hourly counter at an exact UTC hour, as `ActivityStore.count` does for the current hour.
    func count(_ account: UUID, _ hour: String, _ metric: String, _ count: Int) async throws {
        try await client.query(
            """
            INSERT INTO hourly_counts (account_id, hour, metric, count) VALUES (\(account), \(hour)::timestamptz, \(metric), \(count))
            ON CONFLICT (account_id, hour, metric, shard) DO UPDATE SET count = hourly_counts.count + EXCLUDED.count
            """, logger: .quiet("q"))
    }

    @discardableResult
    func activity(_ account: UUID, at: String, outcome: String, reason: String? = nil, latency: Int? = nil, summary: String = "hi") async throws -> Int64 {
        var id: Int64 = 0
        for try await value in try await client.query(
            """
            INSERT INTO activity (account_id, occurred_at, customer_id, event_kind, summary, outcome, reason, latency_ms)
            VALUES (\(account), \(at)::timestamptz, 'c1', 'message', \(summary), \(outcome), \(reason), \(latency)) RETURNING id
            """, logger: .quiet("q")
        ).decode(Int64.self) { id = value }
        return id
    }
}

/// `prepare` runs before analytics starts (and so before its first retention purge).
func withAnalytics(
    prepare: @Sendable (Shops) async throws -> Void = { _ in }, _ body: @Sendable @escaping (any TestClientProtocol, Shops) async throws -> Void
) async throws {
    try await TestDatabase.withMigrated { database, client in
        let shops = try await Shops.make(client)
        try await prepare(shops)
        var configuration = AnalyticsConfiguration(common: CommonConfiguration(database: database.configuration, port: 0), publicURL: "http://dash.example:8081")
        configuration.retentionInterval = .seconds(3600)
        try await buildApplication(configuration: configuration, logger: .quiet("analytics")).test(.router) { http in
            try await waitUntilReady(http)
            try await body(http, shops)
        }
    }
}

struct StatsBody: Decodable {
    struct Totals: Decodable {
        let received, replied, replied_rule, replied_ai, replied_ice_breaker, replied_fallback, skipped, failed, unknown: Int
        let reply_rate: Double?
    }
    struct Day: Decodable {
        let date: String
        let received, replied, skipped: Int
    }
    struct Latency: Decodable {
        let p50: Int?
        let p95: Int?
        let samples: Int
    }
    struct Rule: Decodable {
        let rule_id: String
        let keywords: [String]?
        let hits: Int
    }
    let from, to, tz: String
    let totals: Totals
    let skipped_by_reason: [String: Int]
    let latency_ms: Latency
    let days: [Day]
    let rules: [Rule]
}

struct ActivityBody: Decodable {
    struct Item: Decodable {
        let id: String
        let outcome: String
        let reason: String?
        let summary: String?
    }
    let items: [Item]
    let next_before: String?
}

extension TestClientProtocol {
    func get(_ uri: String, cookie: String?, origin: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        if let origin { headers[HTTPField.Name("Origin")!] = origin }
        return try await execute(uri: uri, method: .get, headers: headers)
    }

    func stats(_ query: String, cookie: String) async throws -> StatsBody {
        let response = try await get("/api/stats?\(query)", cookie: cookie)
        #expect(response.status == .ok, "\(query): \(String(buffer: response.body))")
        return try JSONDecoder().decode(StatsBody.self, from: Data(response.body.readableBytesView))
    }
}

@Suite struct StatsTests {
    @Test func dailySeriesFollowTheDashboardsTimeZoneAndTotalsMatchTheCounts() async throws {
        try await withAnalytics { http, shops in
            // As dispatch records them: per UTC hour. 22:00 UTC on the 10th and 01:00 UTC on the 11th.
            for (hour, metrics) in [("2026-11-10 22:00:00+00", ["received": 3, "replied_rule": 2, "skipped:no_rule": 1]),
                                    ("2026-11-11 01:00:00+00", ["received": 4, "replied_ai": 1, "replied_ice_breaker": 1, "replied_fallback": 1,
                                                                "skipped:cooldown": 1])] {
                for (metric, count) in metrics { try await shops.count(shops.ana, hour, metric, count) }
            }
            let rule = UUID().uuidString.lowercased()
            try await shops.count(shops.ana, "2026-11-10 22:00:00+00", "rule:\(rule)", 2)
            // Bob's numbers on the same hours never show in Ana's.
            try await shops.count(shops.bob, "2026-11-10 22:00:00+00", "received", 100)
            try await shops.count(shops.bob, "2026-11-11 01:00:00+00", "replied_rule", 100)

            func series(_ tz: String) async throws -> [String: Int] {
                let stats = try await http.stats("from=2026-11-09&to=2026-11-12&tz=\(tz)", cookie: shops.anaCookie)
                #expect(stats.days.map(\.date) == ["2026-11-09", "2026-11-10", "2026-11-11", "2026-11-12"])
                // Whatever the zone, the totals are what was recorded.
                #expect(stats.totals.received == 7 && stats.totals.replied == 5 && stats.totals.skipped == 2, "\(tz)")
                #expect(stats.totals.replied_rule == 2 && stats.totals.replied_ai == 1 && stats.totals.replied_ice_breaker == 1)
                #expect(stats.totals.replied_fallback == 1 && stats.totals.failed == 0)
                #expect(abs((stats.totals.reply_rate ?? 0) - 5.0 / 7.0) < 1e-9)
                #expect(stats.skipped_by_reason == ["no_rule": 1, "cooldown": 1])
                #expect(stats.rules.map(\.rule_id) == [rule] && stats.rules.first?.hits == 2 && stats.rules.first?.keywords == nil)
                return Dictionary(uniqueKeysWithValues: stats.days.map { ($0.date, $0.received) })
            }
            #expect(try await series("UTC") == ["2026-11-09": 0, "2026-11-10": 3, "2026-11-11": 4, "2026-11-12": 0])
            // Paris (UTC+1): 23:00 on the 10th and 02:00 on the 11th.
            #expect(try await series("Europe/Paris") == ["2026-11-09": 0, "2026-11-10": 3, "2026-11-11": 4, "2026-11-12": 0])
            // New York (UTC−5): both are on the evening of the 10th.
            #expect(try await series("America/New_York") == ["2026-11-09": 0, "2026-11-10": 7, "2026-11-11": 0, "2026-11-12": 0])
            // Tokyo (UTC+9): both are on the morning of the 11th.
            #expect(try await series("Asia/Tokyo") == ["2026-11-09": 0, "2026-11-10": 0, "2026-11-11": 7, "2026-11-12": 0])

            // A range that cuts through: only the 10th in New York has everything; only the 11th in UTC has the later hour.
            let oneDay = try await http.stats("from=2026-11-11&to=2026-11-11&tz=UTC", cookie: shops.anaCookie)
            #expect(oneDay.totals.received == 4 && oneDay.days.count == 1)

            // Bob sees only his own.
            let bob = try await http.stats("from=2026-11-09&to=2026-11-12&tz=UTC", cookie: shops.bobCookie)
            #expect(bob.totals.received == 100 && bob.totals.replied == 100 && bob.rules.isEmpty)
        }
    }

    @Test func latencyPercentilesComeFromTheRangesBucketCounts() async throws {
        try await withAnalytics { http, shops in
            // As dispatch counts replies sent at 10, 20, 30, 40 and 1,000 ms (issue 17: no activity log read).
            for bucket in ["10", "20", "30", "50", "1000"] { try await shops.count(shops.ana, "2026-11-10 12:00:00+00", "latency_le:\(bucket)", 1) }
            try await shops.count(shops.ana, "2026-11-11 12:00:00+00", "skipped:no_rule", 1)
            try await shops.count(shops.bob, "2026-11-10 12:00:00+00", "latency_le:inf", 7)
            let stats = try await http.stats("from=2026-11-10&to=2026-11-10&tz=UTC", cookie: shops.anaCookie)
            // Interpolated within the bucket: 25 (between 20 and 30) and 938 (between 750 and 1,000).
            #expect(stats.latency_ms.samples == 5 && stats.latency_ms.p50 == 25 && stats.latency_ms.p95 == 938)
            let empty = try await http.stats("from=2026-11-11&to=2026-11-11&tz=UTC", cookie: shops.anaCookie)
            #expect(empty.latency_ms.samples == 0 && empty.latency_ms.p50 == nil && empty.totals.reply_rate == nil)
        }
    }

    @Test(arguments: [
        ("from=2026-02-30&to=2026-03-01", "invalid_date"), ("from=2026-1-5&to=2026-01-06", "invalid_date"), ("from=yesterday", "invalid_date"),
        ("from=2026-11-10&to=2026-11-09", "invalid_range"), ("from=2024-01-01&to=2026-01-01", "invalid_range"),
        ("from=1900-01-01&to=1900-01-02", "invalid_date"), ("tz=Mars/Olympus_Mons", "invalid_timezone"), ("tz=UTC';DROP TABLE x;--", "invalid_timezone"),
    ])
    func nonsenseIsA400(query: String, code: String) async throws {
        try await withAnalytics { http, shops in
            let response = try await http.get("/api/stats?\(query)", cookie: shops.anaCookie)
            #expect(response.status == .badRequest)
            #expect(try decodeJSON(ErrorBody.self, from: response.body).error.code == code, "\(query): \(String(buffer: response.body))")
        }
    }

    @Test func withoutASessionEverythingIs401AndOnlyTheDashboardOriginMayRead() async throws {
        try await withAnalytics { http, shops in
            for uri in ["/api/stats", "/api/activity", "/api/stats?from=2026-01-01&to=2026-01-02"] {
                #expect(try await http.get(uri, cookie: nil).status == .unauthorized)
                #expect(try await http.get(uri, cookie: "ft_session=forged").status == .unauthorized)
            }
            // Defaults: the last 7 days in the zone asked for.
            let week = try await http.stats("tz=Europe/Paris", cookie: shops.anaCookie)
            #expect(week.days.count == 7 && week.tz == "Europe/Paris")

            let allowed = try await http.get("/api/activity", cookie: shops.anaCookie, origin: "http://dash.example:8081")
            #expect(allowed.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == "http://dash.example:8081")
            #expect(allowed.headers[HTTPField.Name("Access-Control-Allow-Credentials")!] == "true")
            let evil = try await http.get("/api/activity", cookie: shops.anaCookie, origin: "https://evil.example")
            #expect(evil.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == nil)
            // The dashboard can read why a request failed (signed out, bad dates) and show it in words.
            let signedOut = try await http.get("/api/stats", cookie: nil, origin: "http://dash.example:8081")
            #expect(signedOut.status == .unauthorized && signedOut.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == "http://dash.example:8081")
            #expect(String(buffer: signedOut.body).contains("Please sign in."))
            var preflight: HTTPFields = [HTTPField.Name("Origin")!: "http://dash.example:8081"]
            preflight[HTTPField.Name("Access-Control-Request-Method")!] = "GET"
            let options = try await http.execute(uri: "/api/stats", method: .options, headers: preflight)
            #expect(options.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == "http://dash.example:8081")
            #expect(options.headers[HTTPField.Name("Access-Control-Allow-Methods")!]?.contains("GET") == true)
        }
    }
}

@Suite struct ActivityTests {
    @Test func newestFirstWithCursorPagingAndAnOutcomeFilterScopedToTheAccount() async throws {
        try await withAnalytics { http, shops in
            var ids: [Int64] = []
            for (index, outcome) in ["replied", "skipped", "replied", "failed", "replied"].enumerated() {
                ids.append(try await shops.activity(shops.ana, at: "2026-11-10 12:0\(index):00+00", outcome: outcome, summary: "ana \(index)"))
            }
            try await shops.activity(shops.bob, at: "2026-11-10 12:30:00+00", outcome: "replied", summary: "bob's secret")

            func page(_ query: String, _ cookie: String) async throws -> ActivityBody {
                let response = try await http.get("/api/activity?\(query)", cookie: cookie)
                #expect(response.status == .ok)
                return try JSONDecoder().decode(ActivityBody.self, from: Data(response.body.readableBytesView))
            }
            let first = try await page("limit=2", shops.anaCookie)
            #expect(first.items.map(\.summary) == ["ana 4", "ana 3"] && first.next_before == String(ids[3]))
            let second = try await page("limit=2&before=\(first.next_before ?? "")", shops.anaCookie)
            #expect(second.items.map(\.summary) == ["ana 2", "ana 1"])
            let third = try await page("limit=2&before=\(second.next_before ?? "")", shops.anaCookie)
            #expect(third.items.map(\.summary) == ["ana 0"] && third.next_before == nil)

            let replied = try await page("outcome=replied", shops.anaCookie)
            #expect(replied.items.map(\.summary) == ["ana 4", "ana 2", "ana 0"])
            // Bob's cursor past Ana's ids still shows only Bob's entries.
            let bob = try await page("before=\(Int64.max)", shops.bobCookie)
            #expect(bob.items.map(\.summary) == ["bob's secret"])
            let anaAll = try await page("limit=100", shops.anaCookie)
            #expect(!anaAll.items.contains { $0.summary == "bob's secret" })

            for query in ["limit=0", "limit=101", "limit=x", "before=-1", "before=abc", "outcome=everything"] {
                #expect(try await http.get("/api/activity?\(query)", cookie: shops.anaCookie).status == .badRequest, "\(query)")
            }
        }
    }
}

@Suite struct RetentionTests {
    final class IDs: @unchecked Sendable {
        var old: Int64 = 0
        var recent: Int64 = 0
        var today: Int64 = 0
    }

    @Test func theScheduledPurgeDeletesEntriesOlderThan90DaysAndKeepsCounts() async throws {
        let ids = IDs()
        try await withAnalytics(prepare: { shops in
            ids.old = try await shops.activity(shops.ana, at: (Date() - 91 * 86_400).formatted(.iso8601), outcome: "replied")
            ids.recent = try await shops.activity(shops.ana, at: (Date() - 89 * 86_400).formatted(.iso8601), outcome: "replied")
            ids.today = try await shops.activity(shops.bob, at: Date().formatted(.iso8601), outcome: "skipped")
            try await shops.count(shops.ana, (Date() - 91 * 86_400).formatted(.iso8601), "received", 1)
        }) { _, shops in
            let (old, recent, today) = (ids.old, ids.recent, ids.today)
            // The analytics service schedules the purge at start; wait until its job has run (not just been queued).
            let queue = JobQueue(client: shops.client, logger: .quiet("q"))
            let retention = Retention(store: ActivityStore(client: shops.client, logger: .quiet("r")), queue: queue, logger: .quiet("r"))
            try await retention.schedule()  // the same hour's key: deduplicated with the one already queued
            var remaining: [Int64] = []
            for _ in 0..<400 {
                remaining = []
                for try await id in try await shops.client.query("SELECT id FROM activity ORDER BY id").decode(Int64.self) { remaining.append(id) }
                var jobs = 0
                for try await n in try await shops.client.query("SELECT count(*)::int8 FROM jobs WHERE kind = 'analytics.retention_purge'").decode(Int64.self) {
                    jobs = Int(n)
                }
                if !remaining.contains(old) && jobs == 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(remaining == [recent, today])
            var ledger = 0
            for try await n in try await shops.client.query("SELECT count(*)::int8 FROM job_dedupe WHERE key LIKE 'retention:%'").decode(Int64.self) {
                ledger = Int(n)
            }
            #expect(ledger == 1, "one purge per hour, however often it is scheduled")
            // Counts stay.
            var counted: Int64? = nil
            // Counts stay (the purge's job packs the old hour into hourly_packed: moved, not dropped).
            for try await n in try await shops.client.query(
                """
                SELECT ((SELECT coalesce(sum(count), 0) FROM hourly_counts WHERE account_id = \(shops.ana))
                     + (SELECT coalesce(sum(c), 0) FROM hourly_packed p, unnest(p.counts) AS u(c) WHERE p.account_id = \(shops.ana)))::int8
                """).decode(Int64?.self) {
                counted = n
            }
            #expect(counted == 1)
        }
    }

    @Test func largePurgesGoInBatches() async throws {
        try await TestDatabase.withMigrated { _, client in
            let shops = try await Shops.make(client)
            try await client.query(
                """
                INSERT INTO activity (account_id, occurred_at, event_kind, outcome)
                SELECT \(shops.ana), now() - interval '100 days', 'message', 'replied' FROM generate_series(1, 2500)
                """, logger: .quiet("q"))
            try await shops.activity(shops.ana, at: Date().formatted(.iso8601), outcome: "replied")
            let deleted = try await ActivityStore(client: client, logger: .quiet("a")).purgeActivity(batch: 1000, pause: .zero)
            #expect(deleted == 2500)
            for try await n in try await client.query("SELECT count(*)::int8 FROM activity").decode(Int64.self) { #expect(n == 1) }
        }
    }
}
