import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import PostgresNIO
import ReplyRules

/// Creates accounts, connections, rules, settings and Ice Breakers without the dashboard, through the stores that own
/// them: for tests and `make run`'s demo shop. Not linked into any service.
package struct AccountSeeder: Sendable {
    package let client: Database
    package let vault: TokenVault
    package let logger: Logger

    package struct EmailTaken: Error {}

    package init(client: PostgresClient, vault: TokenVault, logger: Logger) {
        self.init(client: Database(client), vault: vault, logger: logger)
    }

    package init(client: Database, vault: TokenVault, logger: Logger) {
        self.client = client
        self.vault = vault
        self.logger = logger
    }

    /// An account with a connected Instagram account (token valid 60 days, sealed for it; no refresh queued).
    @discardableResult
    package func createAccount(email: String, passwordHash: String = "v1$seeded", instagramUserID: String, username: String, token: Secret<String>)
        async throws -> UUID
    {
        let id = UUID()
        guard try await AccountStore(client: client, logger: logger).create(id: id, email: email, passwordHash: passwordHash) else { throw EmailTaken() }
        _ = try await connect(accountID: id, instagramUserID: instagramUserID, username: username, token: token)
        return id
    }

    /// Connects an Instagram account to an existing account, as Instagram Login would (token valid 60 days, sealed for it;
    /// no refresh queued). False, with nothing written, when that Instagram account belongs to another account.
    package func connect(accountID: UUID, instagramUserID: String, username: String, token: Secret<String>) async throws -> Bool {
        let sealed = try vault.seal(token, for: TokenOwner(accountID: accountID.uuidString.lowercased(), instagramUserID: instagramUserID))
        return try await ConnectionStore(client: client, logger: logger).connect(
            accountID: accountID, instagramUserID: instagramUserID, username: username, sealedToken: sealed,
            expiresAt: Date().addingTimeInterval(60 * 86_400), scheduleRefresh: false)
    }

    @discardableResult
    package func addRule(accountID: UUID, keywords: [String], matchType: MatchType = .contains, negativeKeywords: [String] = [], priority: Int = 0,
                         reply: String, trigger: RuleTrigger = .message, handOffMinutes: Int? = nil, optionKind: OptionKind? = nil,
                         options: [ReplyOption] = []) async throws -> UUID {
        let rule = ReplyRule(
            id: "", keywords: keywords, matchType: matchType, negativeKeywords: negativeKeywords, priority: priority, reply: reply, trigger: trigger,
            handOffMinutes: handOffMinutes, optionKind: optionKind, options: options)
        guard let stored = try await AutomationStore(client: client, logger: logger).createRule(rule, accountID: accountID) else {
            throw AutomationStore.TooManyRules()
        }
        return stored.id
    }

    package func setSettings(accountID: UUID, _ settings: AccountSettings) async throws {
        try await AutomationStore(client: client, logger: logger).updateSettings(accountID: accountID) { $0 = settings }
    }

    /// Stores the Ice Breakers without queueing their sync to Instagram.
    package func setIceBreakers(accountID: UUID, _ list: [IceBreaker]) async throws {
        try await AutomationStore(client: client, logger: logger).storeIceBreakers(list, accountID: accountID)
    }
}
