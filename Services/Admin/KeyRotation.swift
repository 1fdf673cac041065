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
                var sealed = connection.tokenSealed
                if (try? TokenVault.keyID(of: sealed)) != vault.activeKeyID {
                    do {
                        let fresh = try vault.seal(try vault.open(sealed, for: connection.owner), for: connection.owner)
                        if try await connections.replaceSealedToken(accountID: connection.accountID, old: sealed, new: fresh) {
                            result.tokensResealed += 1
                            sealed = fresh
                        }
                    } catch is TokenVaultError {
                        result.unreadable.append("account \(connection.accountID.uuidString.lowercased())")
                    }
                }
                if let key = try? TokenVault.keyID(of: sealed) { result.keysInUse.insert(key) }
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
                var sealed = job.payload
                if (try? TokenVault.keyID(of: sealed)) != vault.activeKeyID {
                    do {
                        let fresh = try vault.seal(try vault.open(sealed, for: MailJob.owner), for: MailJob.owner)
                        if try await queue.replacePayload(id: job.id, old: sealed, new: fresh) {
                            result.mailsResealed += 1
                            sealed = fresh
                        }
                    } catch is TokenVaultError {
                        result.unreadable.append("mail job \(job.id)")
                    }
                }
                if let key = try? TokenVault.keyID(of: sealed) { result.keysInUse.insert(key) }
            }
        }
        return result
    }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
