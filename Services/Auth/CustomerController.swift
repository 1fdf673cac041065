import FlowtalkContracts
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// A business answering its customer's request ("what do you hold about me?", "delete it"): find a customer by their
/// Instagram-scoped id or a phrase of their message, export what the account holds about them as JSON, or erase it.
struct CustomerController: Sendable {
    let client: Database
    let limiter: RateLimiter
    let logger: Logger

    func add(to api: RouterGroup<AuthRequestContext>) {
        api.get("customers", use: find)
        api.get("customers/:igsid", use: export)
        api.delete("customers/:igsid", use: erase)
    }

    struct Found: Encodable {
        struct Customer: Encodable {
            let customer_id: String
            let activity_entries: Int
            let last_seen_at: Date?
        }
        let customers: [Customer]
    }

    /// `?q=`: an Instagram-scoped id, or a phrase of 3 to 200 characters from a message or a reply.
    func find(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        try await limiter.enforce("customers:account:\(account)", limit: 120, window: .seconds(3600))
        let query = (request.uri.queryParameters["q"].map(String.init) ?? "").trimmingCharacters(in: .whitespaces)
        guard query.count >= 3, query.count <= 200, !query.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw APIError.badRequest("Give an Instagram-scoped id or a phrase of 3 to 200 characters.", code: "invalid_query")
        }
        let matches = try await AccountStore(client: client, logger: logger).findCustomers(accountID: account, query: query)
        return try JSONResponse.make(Found(customers: matches.map {
            .init(customer_id: $0.customerID, activity_entries: $0.entries, last_seen_at: $0.lastSeen)
        }))
    }

    /// Everything held about the customer, as a JSON download; 404 when nothing is.
    func export(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        try await limiter.enforce("customers:account:\(account)", limit: 120, window: .seconds(3600))
        let customer = try Self.customerID(context)
        let key = try await conversationKey(account: account, customer: customer)
        var queued = 0
        if let key { queued = try await JobQueue(client: client, logger: logger).count(conversation: key) }
        guard let document = try await AccountStore(client: client, logger: logger).exportCustomer(accountID: account, customerID: customer, queuedMessages: queued)
        else { throw APIError(.notFound, code: "customer_not_found", message: "This account holds no data about that customer.") }
        context.logger.info("Customer data exported")
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentDisposition: #"attachment; filename="flowtalk-customer.json""#],
            body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    /// Erases everything held about the customer; answers what went (all zero when nothing was held).
    func erase(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        try await limiter.enforce("customers:erase:\(account)", limit: 60, window: .seconds(3600))
        let customer = try Self.customerID(context)
        let key = try await conversationKey(account: account, customer: customer)
        let erased = try await AccountStore(client: client, logger: logger).eraseCustomer(accountID: account, customerID: customer, conversationKey: key)
        context.logger.info("Customer data erased", metadata: ["customer.rows": "\(erased.activity + erased.conversations + erased.replies)"])
        return try JSONResponse.make(["erased": erased])
    }

    /// The id in the path, as webhooks carry it: 1 to 64 visible characters.
    static func customerID(_ context: AuthRequestContext) throws -> String {
        try CustomerIDParameter.validated(try context.parameters.require("igsid"))
    }

    /// The customer's conversation key in the queue, when the account is connected.
    private func conversationKey(account: UUID, customer: String) async throws -> String? {
        try await ConnectionStore(client: client, logger: logger).tokenState(accountID: account).map {
            QueueKeys.conversation(instagramUserID: $0.connection.instagramUserID, customerID: customer)
        }
    }
}
