@testable import DispatchService
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import PostgresNIO
import Testing

/// Issue 13: the privacy policy's retention promises, checked on the whole schema. A DM's text is found only in the
/// activity log once its job is done, and nowhere after 90 days; the customer's id is nowhere 30 days after the
/// conversation's last use except in the activity entries the business still has. Every text, bytea, jsonb and array
/// column of every table is scanned, so a column added later cannot hide a copy; time moves by shifting every timestamp.
@Suite struct TimeTravelTests {
    /// The `table.column`s whose value contains `needle` (bytea searched as UTF-8 bytes, arrays as their text).
    static func whereFound(_ needle: String, _ client: PostgresClient) async throws -> [String] {
        var columns: [(String, String, String)] = []
        for try await row in try await client.query(
            """
            SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
            WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'bytea', 'jsonb', 'json', 'ARRAY')
            ORDER BY table_name, column_name
            """
        ).decode((String, String, String).self) { columns.append(row) }
        #expect(columns.count > 20, "the scan sees the schema")
        var found: [String] = []
        for (table, column, type) in columns {
            let test: String =
                switch type {
                case "bytea": "position(convert_to($1, 'UTF8') in \"\(column)\") > 0"
                default: "strpos(\"\(column)\"::text, $1) > 0"
                }
            var bindings = PostgresBindings()
            bindings.append(needle)
            let query = PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \"\(table)\" WHERE \(test)", binds: bindings)
            for try await count in try await client.query(query).decode(Int.self) where count > 0 { found.append("\(table).\(column)") }
        }
        return found
    }

    /// Moves every date and timestamp of every table `days` into the past, as if that much time had gone by.
    static func travel(days: Int, _ client: PostgresClient) async throws {
        var columns: [(String, String)] = []
        for try await row in try await client.query(
            """
            SELECT table_name::text, column_name::text FROM information_schema.columns
            WHERE table_schema = current_schema() AND data_type IN ('timestamp with time zone', 'date') AND table_name <> 'schema_migrations'
            """
        ).decode((String, String).self) { columns.append(row) }
        for (table, column) in columns {
            try await client.query(
                PostgresQuery(unsafeSQL: "UPDATE \"\(table)\" SET \"\(column)\" = \"\(column)\" - interval '\(days) days' WHERE \"\(column)\" IS NOT NULL"))
        }
    }

    /// Every purge the services run on their hourly schedules.
    static func runPurges(_ client: PostgresClient) async throws {
        let database = Database(client)
        let conversations = ConversationStore(client: database, logger: .quiet("purge"))
        _ = try await ActivityStore(client: database, logger: .quiet("purge")).purgeActivity(pause: .zero)
        _ = try await conversations.purgeIdle()
        _ = try await conversations.purgeHandledEvents(olderThanDays: 30)
        try await conversations.purgeAIUsage()
        _ = try await StaleInbound(client: database, logger: .quiet("purge")).expire()
        _ = try await JobQueue(client: client, logger: .quiet("purge")).purge()
    }

    @Test func aDMsTextAndItsCustomerLeaveEveryTableOnTime() async throws {
        try await InboundHandlerTests.withHarness { (h: InboundHandlerTests.Harness) async throws in
            let canary = "price CANARY\(UUID().uuidString.prefix(8))"
            let customer = "cust-\(UUID().uuidString.prefix(8))"
            _ = try await h.queue.enqueue([InboundEventJob.make(InboundHandlerTests.message(canary, from: customer))])
            #expect(try await Self.whereFound(canary, h.client) == ["jobs.payload"], "while the job waits")
            #expect(try await h.runQueued() == nil)
            #expect(await h.sender.texts(to: customer) == ["Our prices start at 10 EUR."])
            #expect(try await Self.whereFound(canary, h.client) == ["activity.summary"], "once the job is done")

            // 31 days on: the conversation, the reply and its sent id are gone; the log still names the customer.
            try await Self.travel(days: 31, h.client)
            try await Self.runPurges(h.client)
            #expect(try await Self.whereFound(customer, h.client) == ["activity.customer_id"])
            #expect(try await Self.whereFound(canary, h.client) == ["activity.summary"])

            // 91 days on: nothing of the message or of the customer is left anywhere.
            try await Self.travel(days: 60, h.client)
            try await Self.runPurges(h.client)
            #expect(try await Self.whereFound(canary, h.client) == [])
            #expect(try await Self.whereFound(customer, h.client) == [])
        }
    }
}
