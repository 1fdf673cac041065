import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging

/// `flowtalk-admin rotate-keys`: re-seals every connection's token and every queued mail with the vault's active key.
/// Page by page, each write conditional on the old value (a token refreshed meanwhile is already sealed with the
/// active key), so it can stop and run again at any point.
struct KeyRotation {
    let database: Database
    let vault: TokenVault
    let logger: Logger
    var batch = 200

    struct Result {
        var tokens = 0
        var tokensResealed = 0
        var mails = 0
        var mailsResealed = 0
        /// What could not be opened (an unknown key, a damaged value): account ids or job ids.
        var unreadable: [String] = []
        /// Key ids found on stored values after the run.
        var keysInUse: Set<String> = []

        func summary(vault: TokenVault) -> [String] {
            var lines = [
                "tokens: \(tokens) seen, \(tokensResealed) re-sealed with key \(vault.activeKeyID)",
                "queued mails: \(mails) seen, \(mailsResealed) re-sealed",
                "key ids still in use: \(keysInUse.sorted().joined(separator: ", ").ifEmpty("none"))",
            ]
            let unused = vault.keyIDs.filter { !keysInUse.contains($0) && $0 != vault.activeKeyID }
            lines.append("key ids no longer used (may be removed from TOKEN_ENCRYPTION_KEYS): \(unused.joined(separator: ", ").ifEmpty("none"))")
            if !unreadable.isEmpty { lines.append("could not open (left as they are): \(unreadable.joined(separator: ", "))") }
            return lines
        }
    }

    /// `tokenLimit`: stop after that many tokens (what an interrupted run leaves; tests).
    func run(tokenLimit: Int = .max, progress: (String) -> Void) async throws -> Result {
        var result = Result()
        let connections = ConnectionStore(client: database, logger: logger)
        var cursor: UUID?
        while true {
            let page = try await connections.sealedTokens(after: cursor, limit: batch)
            guard let last = page.last, result.tokens < tokenLimit else { break }
            cursor = last.accountID
            for connection in page where result.tokens < tokenLimit {
                result.tokens += 1
                let sealed = connection.tokenSealed
                let outcome = try await reseal(sealed, owner: connection.owner) {
                    try await connections.replaceSealedToken(accountID: connection.accountID, old: sealed, new: $0)
                }
                result.note(outcome, resealed: \.tokensResealed, item: "account \(connection.accountID.uuidString.lowercased())")
            }
            progress("tokens: \(result.tokens) seen, \(result.tokensResealed) re-sealed")
        }
        let queue = JobQueue(client: database, logger: logger)
        var after: Int64 = 0
        while true {
            let page = try await queue.payloads(kind: MailJob.kind, after: after, limit: batch)
            guard let last = page.last else { break }
            after = last.id
            for job in page {
                result.mails += 1
                let outcome = try await reseal(job.payload, owner: MailJob.owner) {
                    try await queue.replacePayload(id: job.id, old: job.payload, new: $0)
                }
                result.note(outcome, resealed: \.mailsResealed, item: "mail job \(job.id)")
            }
        }
        return result
    }
}

extension KeyRotation {
    /// What became of one sealed value: re-sealed (or already with the active key), with the key id it now has; or
    /// unreadable (no configured key opens it, or it is damaged).
    enum Outcome {
        case sealed(keyID: String?, resealed: Bool)
        case unreadable(keyID: String?)
    }

    /// Re-seals `sealed` with the active key unless it has it; `store` writes the new value if the old is still there.
    func reseal(_ sealed: [UInt8], owner: TokenOwner, store: ([UInt8]) async throws -> Bool) async throws -> Outcome {
        let keyID = try? TokenVault.keyID(of: sealed)
        guard keyID != vault.activeKeyID else { return .sealed(keyID: keyID, resealed: false) }
        let fresh: [UInt8]
        do {
            fresh = try vault.seal(try vault.open(sealed, for: owner), for: owner)
        } catch is TokenVaultError {
            return .unreadable(keyID: keyID)
        }
        // Lost to a concurrent write (a token refresh by a replica that may still have the old ring): the old key id is
        // reported as still in use, so a rerun checks that value again.
        return try await store(fresh) ? .sealed(keyID: vault.activeKeyID, resealed: true) : .sealed(keyID: keyID, resealed: false)
    }
}

extension KeyRotation.Result {
    mutating func note(_ outcome: KeyRotation.Outcome, resealed counter: WritableKeyPath<Self, Int>, item: String) {
        switch outcome {
        case .sealed(let keyID, let resealed):
            if resealed { self[keyPath: counter] += 1 }
            if let keyID { keysInUse.insert(keyID) }
        case .unreadable(let keyID):
            unreadable.append(item)
            if let keyID { keysInUse.insert(keyID) }
        }
    }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
